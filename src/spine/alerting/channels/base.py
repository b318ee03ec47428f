"""What every channel type provides, and the message it sends.

A channel sends one delivery and reports a response or a :class:`DeliveryError`;
routing, throttling, retries, breakers and dead letters belong to the delivery worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from spine.alerting.models import Alert
from spine.core.errors import ErrorCategory, InvalidInput, SpineError

if TYPE_CHECKING:
    import httpx


class DeliveryError(SpineError):
    """A send failed; ``response`` is what the peer answered (never request credentials).

    ``retry_after`` is the peer's ``Retry-After`` header, if it sent one; ``gone``
    says that the endpoint answered 410 Gone (the worker disables the channel).
    """

    category = ErrorCategory.NETWORK

    def __init__(
        self,
        message: str,
        *,
        response: dict[str, Any] | None = None,
        category: ErrorCategory | None = None,
        retryable: bool | None = None,
        retry_after: str | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(message, category=category, retryable=retryable)
        self.response = response
        #: The peer's ``Retry-After`` header, as sent (the worker reads it).
        self.retry_after = retry_after
        #: The endpoint answered 410 Gone: it will never take a delivery again.
        self.gone = gone


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One alert on its way to one channel."""

    alert: Alert
    #: Stable across retries of this alert to this channel (the receiver's dedup key).
    message_id: str
    delivery_id: str
    attempt: int
    channel_name: str
    #: A spec 004 webhook's event (``incident.created`` ...): the body is the event's
    #: ``type``, ``timestamp`` and facts (``event_data``) instead of the alert.
    event: str | None = None
    event_data: dict[str, Any] | None = None
    event_at: str | None = None

    def summary(self) -> str:
        """``[SEVERITY] title``, the subject line every channel shows."""
        return f"[{self.alert.severity.value}] {self.alert.title}"

    def text(self) -> str:
        """A plain-text rendering: subject, message, then the context that is set."""
        alert = self.alert
        lines = [self.summary(), "", alert.message, ""]
        for label, value in (
            ("source", alert.source),
            ("domain", alert.domain),
            ("run", alert.run_id),
            ("execution", alert.execution_id),
            ("error category", alert.error_category),
            ("alert id", alert.id),
        ):
            if value:
                lines.append(f"{label}: {value}")
        return "\n".join(lines).strip() + "\n"

    def payload(self) -> dict[str, Any]:
        """The alert as a JSON object (the webhook's ``data``)."""
        alert = self.alert
        return {
            "alert_id": alert.id,
            "severity": alert.severity.value,
            "title": alert.title,
            "message": alert.message,
            "source": alert.source,
            "domain": alert.domain,
            "run_id": alert.run_id,
            "execution_id": alert.execution_id,
            "error_category": alert.error_category,
            "metadata": alert.metadata,
            "created_at": alert.created_at.isoformat() if alert.created_at else None,
            "channel": self.channel_name,
            "delivery_id": self.delivery_id,
            "attempt": self.attempt,
        }


class HttpPoster(Protocol):
    """POSTs for the HTTP-based channels (``channels.http.HttpSender``)."""

    def post(
        self,
        url: str,
        *,
        timeout: float,
        allow_private: bool,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """POST to ``url`` and return a 2xx response, or raise ``DeliveryError``."""
        ...


class ChannelType(Protocol):
    """A kind of channel (``webhook``, ``email`` ...)."""

    #: Config keys that hold credentials: sealed at rest, masked on display; each may
    #: instead be given as ``<key>_ref`` (``env:VAR`` / ``file:PATH``).
    secret_fields: tuple[str, ...]

    def validate(self, config: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
        """Return the normalised config (secrets still as given), or raise InvalidInput."""
        ...

    def send(
        self,
        message: Message,
        config: dict[str, Any],
        *,
        timeout: float,
        allow_private: bool,
        sender: HttpPoster,
    ) -> dict[str, Any]:
        """Send ``message`` with ``config`` (secrets opened); return the peer's response.

        HTTP-based channels POST through ``sender``, the HTTP client their caller owns.

        Raises:
            DeliveryError: If the peer refused or could not be reached.
            UrlNotAllowed: If the target is private and not allowed.
        """
        ...


def require(config: dict[str, Any], key: str, channel_type: str) -> Any:
    """``config[key]``, or an InvalidInput naming the missing key.

    Raises:
        InvalidInput: If the key is absent or empty.
    """
    value = config.get(key)
    if value in (None, "", []):
        raise InvalidInput(f"{channel_type} channel config needs {key!r}")
    return value


def has_secret(config: dict[str, Any], key: str) -> bool:
    """Whether ``key`` or ``<key>_ref`` is given."""
    return bool(config.get(key) or config.get(f"{key}_ref"))
