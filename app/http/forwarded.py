"""The client's address behind a reverse proxy: `X-Forwarded-For`, from trusted peers only.

The README's deployment puts nginx on the same host, so every request reaches gunicorn
from 127.0.0.1; without this, per-address rate limits would count every client as one
and `Metrics:AllowedNetworks` would admit anyone through the proxy. A peer outside
`TOKENIDP_TRUSTED_PROXIES` (default loopback, as gunicorn's `forwarded_allow_ips`) is the
client itself, whatever headers it sends. Behind trusted proxies, the client is the
right-most address in `X-Forwarded-For` that is not itself a trusted proxy (each proxy
appends the peer it saw; entries to the left of it are the client's word).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = b"x-forwarded-for"


class ClientAddresses:
    """Resolve a request's client address from its peer and headers."""

    def __init__(self, trusted: Sequence[Network]) -> None:
        self.trusted = tuple(trusted)
        self._is_trusted = lru_cache(maxsize=1024)(self._check)

    def resolve(self, peer: str, headers: Sequence[tuple[bytes, bytes]]) -> str:
        if not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = [value for name, value in headers if name == FORWARDED_FOR]
        if not forwarded:
            return peer
        hops = [hop.strip() for value in forwarded for hop in value.decode("latin-1").split(",")]
        for hop in reversed(hops):
            if not hop:
                continue
            if _address(hop) is None:
                return peer  # a malformed entry: trust nothing left of it, nor it
            if not self._is_trusted(hop):
                return hop
        return peer

    def _check(self, address: str) -> bool:
        if address == "-":  # a unix socket peer: a local process, as trusted as loopback
            return any(network.is_loopback for network in self.trusted)
        ip = _address(address)
        return ip is not None and any(ip in network for network in self.trusted)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
