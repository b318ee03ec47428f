"""Apprise URLs are checked before Apprise sees them, and never leak their credentials."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spine.alerting import AlertService, DeliveryWorker
from spine.core.errors import InvalidInput
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries
from spine.core.storage.schema.resilience import dead_letter_queue


def _rows(db: Database, table: sa.Table) -> list[sa.Row[Any]]:
    with db.read() as conn:
        return list(conn.execute(sa.select(table)))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "FILE:///etc/passwd", "windows://", "syslog://", "dbus://"]
)
def test_apprise_local_schemes_are_refused_when_added(service: AlertService, url: str) -> None:
    with pytest.raises(InvalidInput, match="network"):
        service.add_channel("local", "apprise", {"url": url})
    assert service.store.list_channels() == []


def test_apprise_url_read_from_a_file_reference_is_checked_before_apprise_sees_it(
    service: AlertService,
    worker: DeliveryWorker,
    db: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    local = tmp_path / "not-a-url"
    local.write_text("root:x:0:0:TOPSECRETLINE:/root:/bin/bash\n")
    service.add_channel("local", "apprise", {"url_ref": f"file:{local}"})
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    [failed] = _rows(db, core_alert_deliveries)
    assert failed.status == "FAILED" and "scheme://" in failed.error
    assert len(_rows(db, dead_letter_queue)) == 1  # trying again will not help
    assert "TOPSECRETLINE" not in failed.error + caplog.text


def test_apprise_local_scheme_from_a_reference_is_refused_at_send(
    service: AlertService,
    worker: DeliveryWorker,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("APPRISE_URL", "file:///etc/passwd")
    service.add_channel("local", "apprise", {"url_ref": "env:APPRISE_URL"})
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    [failed] = _rows(db, core_alert_deliveries)
    assert failed.status == "FAILED" and "file://" in failed.error
    assert "root:" not in failed.error + caplog.text


def test_an_unparseable_slack_url_never_shows_its_token(
    service: AlertService,
    worker: DeliveryWorker,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = "slack://SECRETTOKEN/B5678"
    with pytest.raises(InvalidInput) as refused:
        service.add_channel("literal", "apprise", {"url": url})
    assert "SECRETTOKEN" not in str(refused.value)
    monkeypatch.setenv("APPRISE_URL", url)
    service.add_channel("slack", "apprise", {"url_ref": "env:APPRISE_URL"})
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    [failed] = _rows(db, core_alert_deliveries)
    assert failed.status == "FAILED" and "slack://" in failed.error
    assert "apprise" in caplog.text  # Apprise did log why; scrubbed
    assert "SECRETTOKEN" not in failed.error + str(failed.response_json) + caplog.text
