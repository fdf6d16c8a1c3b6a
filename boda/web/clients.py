"""Who is on the other end: the peer, or what a trusted proxy says the client is."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(host: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(request: Request) -> str:
    """The client's address. X-Forwarded-For counts only when the peer is a trusted proxy.

    The header is read from the right: each trusted proxy appends the address it
    saw, so the first untrusted hop is the client; anything left of it is what
    the client wrote itself and is ignored.
    """
    peer = request.client.host if request.client else ""
    trusted: Sequence[Network] = getattr(request.app.state, "trusted_proxies", ())
    if not _trusted(peer, trusted):
        return peer or "unknown"
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def is_local(request: Request) -> bool:
    """A loopback client that no proxy forwarded (a proxy on this machine forwards remote callers)."""
    if request.headers.get("x-forwarded-for") or request.headers.get("forwarded"):
        return False
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False
