"""The outbound-URL guard: spine does not call into private networks unless allowed.

Webhooks, alert channels and HTTP sources take URLs from users. Without a guard, a
channel pointed at ``http://169.254.169.254/`` or ``http://localhost:5432`` turns spine
into a proxy to the cloud metadata service or the internal network (SSRF). Every
resolved address of the host must be public unless the setting allows private ones.

The check resolves the name once; a host that re-resolves to another address between the
check and the connection (DNS rebinding) is not covered (docs/decisions.md).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from spine.core.errors import ErrorCategory, InvalidInput, SpineError


class UrlNotAllowed(SpineError):
    """The URL's host is loopback, link-local, private or otherwise not public."""

    category = ErrorCategory.PERMISSION


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _kind(address: Address) -> str:
    """What kind of non-public address ``address`` is, in words."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _kind(address.ipv4_mapped)
    for kind, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return "non-public"


def refusal_message(host: str, address: str, *, setting: str) -> str:
    """The one text of every refusal of a private address, naming the setting that allows it.

    ``setting`` is the field of ``spine.config.Settings`` that allows private addresses for
    the caller (``alerting_allow_private_urls``, ``sources_allow_private_urls``): its
    environment variable is ``SPINE_`` and the name in capitals, its ``spine.toml`` key
    the name itself. The user who meets the refusal learns what to set, and where.
    """
    kind = _kind(ipaddress.ip_address(address.split("%", 1)[0]))
    what = (
        f"host {host!r} is a {kind} address"
        if host.strip("[]") == address
        else f"host {host!r} resolves to {address}, a {kind} address"
    )
    return (
        f"{what}: spine does not call loopback, link-local or private addresses unless "
        f"allowed; to allow them set SPINE_{setting.upper()}=true (or {setting} = true "
        "in spine.toml)"
    )


def _is_private(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _is_private(address.ipv4_mapped)
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


def host_addresses(host: str, port: int | None = None) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself).

    Raises:
        SpineError: NETWORK category, if the name does not resolve.
    """
    try:
        return [ipaddress.ip_address(host.strip("[]")).compressed]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise SpineError(
            f"cannot resolve host {host!r}: {error.strerror}", category=ErrorCategory.NETWORK
        ) from None
    return sorted({str(info[4][0]) for info in infos})


def check_outbound_url(
    url: str,
    *,
    allow_private: bool,
    setting: str,
    schemes: tuple[str, ...] = ("http", "https"),
    unresolved_ok: bool = False,
) -> str:
    """Return ``url`` if spine may call it.

    ``unresolved_ok`` accepts a name that does not resolve (yet): for a config being
    saved, whose host may resolve only where the sender runs. The check is made again,
    strictly, when the URL is called. ``setting`` names the setting that allows private
    addresses to this caller (see :func:`refusal_message`).

    Raises:
        InvalidInput: If it is not an absolute URL with one of ``schemes`` and a host.
        UrlNotAllowed: If a resolved address is not public and ``allow_private`` is off.
        SpineError: NETWORK category, if the host does not resolve.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise InvalidInput(f"URL must be absolute with scheme {' or '.join(schemes)}: {url!r}")
    check_outbound_host(
        parts.hostname, allow_private=allow_private, setting=setting, unresolved_ok=unresolved_ok
    )
    return url


def check_outbound_host(
    host: str, *, allow_private: bool, setting: str, unresolved_ok: bool = False
) -> None:
    """Refuse ``host`` unless it resolves only to public addresses (or private is allowed).

    ``unresolved_ok``: a name that does not resolve passes (see :func:`check_outbound_url`).

    Raises:
        UrlNotAllowed: If an address is loopback, link-local, private or reserved.
        SpineError: NETWORK category, if the host does not resolve.
    """
    if allow_private:
        return
    try:
        addresses = host_addresses(host)
    except SpineError:
        if unresolved_ok:
            return
        raise
    for text in addresses:
        if _is_private(ipaddress.ip_address(text.split("%", 1)[0])):
            raise UrlNotAllowed(refusal_message(host, text, setting=setting))
