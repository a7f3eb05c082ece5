"""A node's name when it is one replica of a scaled compose service: ``node-3`` for the third.

Every replica runs the same command, so the name comes from the container's own name (``farm_node_3`` from
Compose v1, ``farm-node-3`` from v2), whose trailing number is the replica's ``com.docker.compose.container-number``,
the number ``farm`` commands use. The engines tell a container its name in different places:

- podman writes it into the container's ``/etc/hosts``, beside its address; its DNS (aardvark-dns) answers no
  reverse lookup before 1.5, and later ones answer with several names (the container's, its aliases, its id);
- Docker's embedded DNS answers the reverse lookup of the container's address with its name; its ``/etc/hosts``
  holds only the hostname (the container id).

Both are asked, the hosts file first (local: it cannot hang), and the first name that ends in the service's name and
a number wins. The container id (hex, no separator) and the bare service alias never match.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from pathlib import Path

HOSTS_FILE = Path("/etc/hosts")
DNS_LIFETIME_S = 5.0


class ReplicaNameError(RuntimeError):
    """Neither the hosts file nor the engine's DNS names this container as a numbered replica."""


def replica_number(container_name: str, service: str = "node") -> int | None:
    """3 for ``proj_node_3``, ``proj-node-3`` or ``proj-node-3.proj_default``; None for any other name."""
    first_label = container_name.rstrip(".").split(".", 1)[0]
    found = re.search(rf"(?:^|[-_]){re.escape(service)}[-_](\d+)$", first_label)
    return int(found.group(1)) if found else None


def hosts_names(address: str, hosts: str) -> list[str]:
    """The names a hosts file gives ``address`` (podman lists the container's id, then its name)."""
    names = []
    for line in hosts.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) > 1 and words[0] == address:
            names += words[1:]
    return names


def dns_names(address: str) -> list[str]:
    """The engine DNS's answers to the reverse lookup of ``address`` (the resolver itself: ``socket.gethostbyaddr``
    would answer from /etc/hosts). Imported here: only a replica asks, and every node start would pay for it."""
    import dns.resolver

    answer = dns.resolver.resolve_address(address, lifetime=DNS_LIFETIME_S)
    return [str(record.target).rstrip(".") for record in answer]


def first_replica_name(names: Iterable[str], prefix: str) -> str | None:
    for name in names:
        number = replica_number(name, prefix)
        if number is not None:
            return f"{prefix}-{number}"
    return None


def replica_name(prefix: str = "node") -> str:
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError as exc:
        raise ReplicaNameError(f"cannot find this container's own address: {exc}") from None
    try:
        from_hosts = hosts_names(address, HOSTS_FILE.read_text())
    except OSError as exc:
        from_hosts, hosts_said = [], f"cannot be read ({exc})"
    else:
        hosts_said = f"names {from_hosts}"
    found = first_replica_name(from_hosts, prefix)
    if found is not None:
        return found
    import dns.exception

    try:
        from_dns = dns_names(address)
    except dns.exception.DNSException as exc:
        from_dns, dns_said = [], f"gives no name ({exc})"
    else:
        dns_said = f"names {from_dns}"
    found = first_replica_name(from_dns, prefix)
    if found is not None:
        return found
    raise ReplicaNameError(
        f"this container ({address}) is not a numbered replica of the {prefix!r} service: {HOSTS_FILE} {hosts_said}, "
        f"the engine's reverse DNS {dns_said}; run the node as a compose service, or give --name"
    )
