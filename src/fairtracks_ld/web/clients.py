"""Who sent a request, for per-client limits: the peer address, or, when the peer is a trusted
proxy, the address that proxy names in `X-Forwarded-For`.

Only proxies listed in `FAIRTRACKS_LD_TRUSTED_PROXIES` (or `serve --trusted-proxy`; addresses or
networks) are believed: anyone else could write any `X-Forwarded-For` to dodge the limits. The
header is read from the right, skipping trusted proxies, so a client cannot forge the hops
before the first trusted one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Trusted proxies as networks (a bare address is a one-address network); ValueError names
    an entry that is neither."""
    found = []
    for entry in entries:
        try:
            found.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as error:
            raise ValueError(f"trusted proxy {entry!r} is not an IP address or network") from error
    return tuple(found)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_of(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client a request counts against."""
    client = peer or "unknown"
    if not trusted or not forwarded_for or not _trusted(client, trusted):
        return client
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        client = hop
        if not _trusted(hop, trusted):
            break
    return client
