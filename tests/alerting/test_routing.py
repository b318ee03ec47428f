from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spine.alerting.backoff import backoff_seconds
from spine.alerting.models import Channel, Severity
from spine.alerting.routing import channel_matches, dedup_key, parse_domains
from spine.core.errors import InvalidInput


def _channel(**overrides: object) -> Channel:
    fields: dict[str, object] = {"id": "c", "name": "c", "channel_type": "webhook", "config": {}}
    fields.update(overrides)
    return Channel(**fields)  # type: ignore[arg-type]


def test_severity_at_or_above_the_minimum_matches() -> None:
    channel = _channel(min_severity=Severity.ERROR)
    assert not channel_matches(channel, Severity.WARNING, None)
    assert channel_matches(channel, Severity.ERROR, None)
    assert channel_matches(channel, Severity.CRITICAL, None)


def test_domain_globs_match_like_fnmatch() -> None:
    channel = _channel(domains=parse_domains("finra.*,sec.*"))
    assert channel_matches(channel, Severity.INFO, "finra.otc_transparency")
    assert channel_matches(channel, Severity.INFO, "sec.filings")
    assert not channel_matches(channel, Severity.INFO, "cme.futures")


def test_an_alert_without_domain_skips_filtered_channels_only() -> None:
    assert not channel_matches(_channel(domains=("finra.*",)), Severity.ERROR, None)
    assert channel_matches(_channel(), Severity.ERROR, None)


def test_disabled_channel_never_matches() -> None:
    assert not channel_matches(_channel(enabled=False), Severity.CRITICAL, "x")


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(InvalidInput, match="URGENT"):
        Severity.parse("URGENT")


def test_dedup_key_depends_on_source_title_and_severity() -> None:
    key = dedup_key("finra.weekly_ingest", "failed", Severity.ERROR)
    assert key == dedup_key("finra.weekly_ingest", "failed", "ERROR")
    assert key != dedup_key("finra.weekly_ingest", "failed", Severity.WARNING)
    assert key != dedup_key("finra.weekly_ingest", "failed!", Severity.ERROR)
    assert key != dedup_key("finra.weekly", "_ingest failed", Severity.ERROR)


@given(attempt=st.integers(1, 40), jitter=st.floats(0, 1))
def test_backoff_grows_and_stays_within_half_and_whole_of_the_ceiling(
    attempt: int, jitter: float
) -> None:
    wait = backoff_seconds(attempt, base=10, cap=600, rand=lambda: jitter)
    ceiling = min(600, 10 * 2 ** (attempt - 1))
    assert ceiling / 2 <= wait <= ceiling
