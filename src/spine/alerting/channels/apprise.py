"""Apprise channel: any service Apprise speaks (``slack://``, ``msteams://``, ``json://`` ...).

Config: ``url`` (an Apprise URL; it usually embeds a token, so it is sealed at rest and
masked on display) or ``url_ref``. The URL is checked before Apprise sees it, when the
channel is saved and again at every send (the reference may point elsewhere by then):
it must be ``scheme://...`` with a network scheme (``file://`` and the desktop and local
schemes are refused), and its host passes the outbound guard when it resolves to an
address: self-hosted targets (``json://``, ``ntfy://host``) are checked, while service
URLs whose "host" is a token go to the service's fixed public endpoint.

Apprise logs the URLs it cannot load, and its plugins log their tokens on some errors:
while spine hands it a URL, every line of the ``apprise`` logger is scrubbed of the
URL's parts (and so are the errors spine stores).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

from spine.alerting.channels.base import DeliveryError, HttpPoster, Message, has_secret
from spine.alerting.models import ALLOW_PRIVATE_SETTING
from spine.core.errors import ErrorCategory, InvalidInput
from spine.core.net import check_outbound_host
from spine.core.secrets import MASK, is_secret_ref, redact_url_password

_TYPES = {
    "INFO": apprise.NotifyType.INFO,
    "WARNING": apprise.NotifyType.WARNING,
    "ERROR": apprise.NotifyType.FAILURE,
    "CRITICAL": apprise.NotifyType.FAILURE,
}
#: Schemes that reach the local machine, not a network service: files, desktop
#: notifications, the local syslog, USB devices.
LOCAL_SCHEMES = frozenset(
    {"file", "windows", "macosx", "dbus", "kde", "qt", "glib", "gnome", "syslog", "blink1"}
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_PIECE_MIN = 3


def check_url(url: str, *, allow_private: bool) -> str:
    """Return the scheme of ``url`` if Apprise may be given it.

    The URL itself is never named in an error: it may be a token, or (through a
    ``file:`` reference) the content of any file.

    Raises:
        InvalidInput: If it is not ``scheme://...`` or its scheme is a local one.
        UrlNotAllowed: If its host resolves to a private address and that is not allowed.
    """
    if not _URL.match(url):
        raise InvalidInput(
            "the apprise URL must be a service URL, scheme://... (e.g. slack://..., json://host)"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in LOCAL_SCHEMES:
        raise InvalidInput(
            f"apprise URLs with scheme {scheme}:// reach the local machine, not a network "
            "service; only network services are allowed"
        )
    if parts.hostname:
        # A name that does not resolve is a service token (slack://T000/...), sent to
        # the service's fixed public endpoint.
        check_outbound_host(
            parts.hostname,
            allow_private=allow_private,
            setting=ALLOW_PRIVATE_SETTING,
            unresolved_ok=True,
        )
    return scheme


def _pieces(url: str) -> set[str]:
    """The parts of ``url`` that may be credentials (everything but scheme and addresses)."""
    parts = urlsplit(url)
    found = {url, unquote(url)}
    for value in (parts.username, parts.password, parts.fragment):
        if value:
            found.add(value)
    host = parts.hostname or ""
    if host and "." not in host and host != "localhost":
        found.add(host)  # a token in the host's place
    for segment in parts.path.split("/"):
        found.update({segment, unquote(segment)})
    for _, value in parse_qsl(parts.query, keep_blank_values=False):
        found.add(value)
    return {piece for piece in found if len(piece) >= _PIECE_MIN}


class _Scrubber(logging.Filter):
    """Masks the URLs spine has handed Apprise in every record of the ``apprise`` logger."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._active: Counter[str] = Counter()

    @contextmanager
    def guarding(self, url: str) -> Iterator[None]:
        pieces = _pieces(url)
        with self._lock:
            self._active.update(pieces)
        try:
            yield
        finally:
            with self._lock:
                self._active.subtract(pieces)
                self._active += Counter()  # drop the zero counts

    def scrub(self, text: str) -> str:
        with self._lock:
            pieces = sorted(self._active, key=len, reverse=True)
        for piece in pieces:
            text = text.replace(piece, MASK)
        return redact_url_password(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._active:
            record.msg = self.scrub(record.getMessage())
            record.args = None
        return True


_SCRUBBER = _Scrubber()
_APPRISE_LOG = logging.getLogger("apprise")
if not any(isinstance(f, _Scrubber) for f in _APPRISE_LOG.filters):
    _APPRISE_LOG.addFilter(_SCRUBBER)


class AppriseChannel:
    """Notifications through the Apprise library."""

    secret_fields: tuple[str, ...] = ("url",)

    def validate(self, config: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
        """Check the URL's scheme and host, then that Apprise understands it."""
        if not has_secret(config, "url"):
            raise InvalidInput("apprise channel config needs 'url' (an Apprise URL) or 'url_ref'")
        url = config.get("url")
        if not isinstance(url, str) or (is_secret_ref(url) and not _URL.match(url)):
            return config  # a reference (env:VAR, file:/path): checked when it is read
        scheme = check_url(url, allow_private=allow_private)
        with _SCRUBBER.guarding(url):
            understood = apprise.Apprise.instantiate(url) is not None
        if not understood:
            raise InvalidInput(f"apprise does not understand this {scheme}:// URL")
        return config

    def send(
        self,
        message: Message,
        config: dict[str, Any],
        *,
        timeout: float,
        allow_private: bool,
        sender: HttpPoster,
    ) -> dict[str, Any]:
        """Notify through Apprise; Apprise reports only success or failure."""
        url = str(config["url"])
        scheme = check_url(url, allow_private=allow_private)
        with _SCRUBBER.guarding(url):
            notifier = apprise.Apprise()
            if not notifier.add(url):
                raise DeliveryError(
                    f"apprise does not understand the channel's {scheme}:// URL",
                    category=ErrorCategory.VALIDATION,
                )
            with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
                ok = notifier.notify(
                    title=message.summary(),
                    body=message.text(),
                    notify_type=_TYPES[message.alert.severity.value],
                )
                log_text = captured.getvalue() if hasattr(captured, "getvalue") else ""
            detail = _SCRUBBER.scrub(str(log_text)).strip().splitlines()
        if not ok:
            raise DeliveryError(
                "apprise could not notify" + (f": {detail[-1][:300]}" if detail else "")
            )
        return {"notified": True, "service": scheme}
