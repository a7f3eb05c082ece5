"""The clients whose X-Forwarded-* headers the proxy believes: other proxies in front of it (--trusted-proxies).

Anyone else could write any address or scheme there, and a backend that logs, rate-limits or builds redirect
URLs from them would be lied to; so for them the proxy writes the headers from what it sees itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """A set of IP networks; ``address in trusted`` for a peer's address as the socket gives it."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, values: Iterable[str]) -> TrustedProxies:
        """From the flag's values, each a comma-separated list of addresses and CIDR networks."""
        networks: list[Network] = []
        for value in values:
            for item in (part.strip() for part in value.split(",")):
                if not item:
                    continue
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(
                        f"--trusted-proxies: {item!r} is not an IP address or network (e.g. 10.0.0.0/8 or ::1)"
                    ) from None
        return cls(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        if not self.networks or not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # not an IP peer (a Unix socket): nothing to match
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)
