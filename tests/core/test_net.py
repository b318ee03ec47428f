"""The outbound guard's refusals name the setting that allows the address."""

from __future__ import annotations

import pytest

from spine.alerting.models import ALLOW_PRIVATE_SETTING as ALERTING
from spine.config import Settings
from spine.core.net import UrlNotAllowed, check_outbound_host, refusal_message
from spine.sources.models import ALLOW_PRIVATE_SETTING as SOURCES


@pytest.mark.parametrize(
    ("host", "address", "start"),
    [
        ("127.0.0.1", "127.0.0.1", "host '127.0.0.1' is a loopback address"),
        ("[::1]", "::1", "host '[::1]' is a loopback address"),
        ("169.254.169.254", "169.254.169.254", "host '169.254.169.254' is a link-local address"),
        ("db.internal", "10.1.2.3", "host 'db.internal' resolves to 10.1.2.3, a private address"),
        (
            "::ffff:192.168.0.1",
            "::ffff:c0a8:1",
            "host '::ffff:192.168.0.1' resolves to ::ffff:c0a8:1, a private address",
        ),
    ],
)
def test_the_refusal_says_what_the_address_is_and_which_setting_allows_it(
    host: str, address: str, start: str
) -> None:
    message = refusal_message(host, address, setting="sources_allow_private_urls")
    assert message.startswith(start + ": spine does not call loopback, link-local or private")
    assert message.endswith(
        "to allow them set SPINE_SOURCES_ALLOW_PRIVATE_URLS=true "
        "(or sources_allow_private_urls = true in spine.toml)"
    )


def test_a_resolved_name_is_refused_with_the_callers_setting() -> None:
    with pytest.raises(UrlNotAllowed) as refused:
        check_outbound_host("localhost", allow_private=False, setting=ALERTING)
    assert "resolves to" in str(refused.value) and "a loopback address" in str(refused.value)
    assert "SPINE_ALERTING_ALLOW_PRIVATE_URLS=true" in str(refused.value)


@pytest.mark.parametrize("setting", [ALERTING, SOURCES])
def test_the_named_settings_exist_and_their_variable_allows_private_addresses(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().model_dump()[setting] is False
    monkeypatch.setenv(f"SPINE_{setting.upper()}", "true")
    assert Settings().model_dump()[setting] is True
