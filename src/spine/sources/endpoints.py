"""Where a network source points, checked when it is saved (and again at every fetch).

An HTTP source's ``url``, an S3 source's ``endpoint_url`` and an SFTP source's ``host``
must name a network peer: ``http``/``https`` URLs with a host, a plain host name or
address for SFTP; loopback, link-local and private addresses (IP literals, or names that
resolve to them) are refused unless the setting allows them. A name that does not
resolve where the source is saved passes; the fetch checks it again, strictly.
Placeholders (``{param}``) in a host are filled at fetch time and checked then.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from spine.core.errors import InvalidInput
from spine.core.net import check_outbound_host
from spine.sources.models import ALLOW_PRIVATE_SETTING, SourceType

_HOST = re.compile(r"[A-Za-z0-9._:\[\]%{}-]+")


def _check_host(host: str, allow_private: bool) -> None:
    if "{" in host:
        return  # filled from params at fetch time, and checked then
    if len(host) > 253 or any(len(label) > 63 for label in host.split(".")):
        raise InvalidInput("a source's host name is longer than DNS allows (253, 63 a label)")
    try:
        check_outbound_host(
            host, allow_private=allow_private, setting=ALLOW_PRIVATE_SETTING, unresolved_ok=True
        )
    except UnicodeError:
        raise InvalidInput("a source's host is not a valid host name") from None


def _check_url(url: str, key: str, kind: SourceType, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        # The URL is not repeated: it may carry a password.
        scheme = f"{parts.scheme}://" if parts.scheme.isalnum() else "its scheme"
        raise InvalidInput(
            f"{kind.value} source {key} must be an http:// or https:// URL with a host, "
            f"not {scheme}"
        )
    _check_host(parts.hostname, allow_private)


def check_endpoint(kind: SourceType, config: Mapping[str, Any], *, allow_private: bool) -> None:
    """Refuse a network source whose peer is not a network address spine may call.

    Raises:
        InvalidInput: If the URL's scheme is not http or https, or the SFTP host is a URL
            or a path.
        UrlNotAllowed: If the host is (or resolves to) a loopback, link-local or private
            address and that is not allowed.
    """
    if kind is SourceType.HTTP:
        _check_url(str(config["url"]), "url", kind, allow_private)
    elif kind is SourceType.S3 and config.get("endpoint_url"):
        _check_url(str(config["endpoint_url"]), "endpoint_url", kind, allow_private)
    elif kind is SourceType.SFTP:
        host = str(config["host"])
        if not _HOST.fullmatch(host):
            raise InvalidInput(
                "sftp source host must be a host name or an address, not a URL or a path"
            )
        _check_host(host.strip("[]"), allow_private)
