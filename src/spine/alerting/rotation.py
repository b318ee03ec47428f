"""A webhook's signing secret rotated with an overlap: the previous secret still signs.

``spine alerts channels update NAME --rotate-secret`` puts a new secret in ``secret`` and
keeps the one it replaces in ``previous_secret`` (sealed or a reference, as it was) until
``overlap_until`` (ISO 8601, UTC). Until then every delivery carries two ``v1,``
signatures (Standard Webhooks allows several), so a receiver verifies with either
secret; afterwards only the new secret signs and the previous one is never opened.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

#: Config key of the secret being retired (a credential: sealed, masked).
PREVIOUS = "previous_secret"
#: Config key of the end of the overlap (ISO 8601).
UNTIL = "overlap_until"
#: Keys that only a rotation writes; ``--config`` may not set them.
MANAGED = (PREVIOUS, UNTIL)


def rotated(
    config: dict[str, Any], new_secret: str, now: datetime, overlap: timedelta
) -> dict[str, Any]:
    """``config`` with ``new_secret`` signing and the current secret kept for ``overlap``.

    The current secret is ``secret`` (sealed) or ``secret_ref`` (kept as the reference).
    A rotation during an overlap retires the secret that was new; the older one is dropped.
    With a zero overlap nothing is kept.
    """
    current = config.get("secret") or config.get("secret_ref")
    changed = ended(config)
    changed.pop("secret_ref", None)
    changed["secret"] = new_secret
    if current and overlap > timedelta(0):
        changed[PREVIOUS] = current
        changed[UNTIL] = (now + overlap).isoformat()
    return changed


def ended(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without a previous secret."""
    return {k: v for k, v in config.items() if k not in MANAGED}


def overlap_end(config: dict[str, Any]) -> datetime | None:
    """When the previous secret stops signing (None: there is none)."""
    until = config.get(UNTIL)
    if not config.get(PREVIOUS) or not isinstance(until, str):
        return None
    try:
        return datetime.fromisoformat(until)
    except ValueError:
        return None


def current(config: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``config`` as it signs at ``now``: a previous secret whose overlap is over is gone."""
    end = overlap_end(config)
    if end is not None and now < end:
        return config
    return ended(config) if any(k in config for k in MANAGED) else config
