"""Which channels an alert goes to, and the key that throttles repeats.

A channel matches an alert when it is enabled, the alert's severity is at least the
channel's ``min_severity``, and the channel has no domain filter or the alert's domain
matches one of its ``fnmatch`` globs (``finra.*``). An alert without a domain does not
match a channel that filters on domains: a filter says "only these domains"
(Alertmanager's matchers behave the same on a missing label).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from fnmatch import fnmatchcase

from spine.alerting.models import Channel, Severity
from spine.core.errors import InvalidInput
from spine.core.workspaces import DEFAULT_WORKSPACE_ID


def parse_domains(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    """Domain globs from ``'finra.*,sec.*'`` or a list; empty means "every domain".

    Raises:
        InvalidInput: If a pattern is blank or has whitespace inside.
    """
    if raw is None:
        return ()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    patterns = []
    for item in items:
        pattern = str(item).strip()
        if not pattern:
            continue
        if any(ch.isspace() for ch in pattern):
            raise InvalidInput(f"domain pattern {pattern!r} has whitespace in it")
        patterns.append(pattern)
    return tuple(dict.fromkeys(patterns))


def domain_matches(patterns: Iterable[str], domain: str | None) -> bool:
    """Whether ``domain`` passes a channel's domain filter (see the module docstring)."""
    globs = tuple(patterns)
    if not globs:
        return True
    if domain is None:
        return False
    return any(fnmatchcase(domain, glob) for glob in globs)


def channel_matches(channel: Channel, severity: Severity, domain: str | None) -> bool:
    """Whether an alert of ``severity`` in ``domain`` is routed to ``channel``."""
    return (
        channel.enabled
        and severity.rank >= channel.min_severity.rank
        and domain_matches(channel.domains, domain)
    )


def route(channels: Iterable[Channel], severity: Severity, domain: str | None) -> list[Channel]:
    """The channels an alert goes to, in the order given."""
    return [c for c in channels if channel_matches(c, severity, domain)]


def dedup_key(
    source: str, title: str, severity: Severity | str, workspace_id: uuid.UUID | None = None
) -> str:
    """SHA-256 (hex) of source, title and severity: equal alerts share it (spec 000).

    Outside the default workspace the workspace's id is hashed in too, so that equal
    alerts of two workspaces never throttle each other (``core_alert_throttle`` is keyed
    by ``dedup_key`` alone); the default workspace keeps the keys it always had.
    """
    parts = [source, title, str(severity)]
    if workspace_id is not None and workspace_id != DEFAULT_WORKSPACE_ID:
        parts.append(str(workspace_id))
    text = "\x1f".join(parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
