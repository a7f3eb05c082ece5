"""A node's name when it is one replica of a scaled compose service: ``node-3`` for the third.

Every replica runs the same command, so the name comes from the engine's DNS: the reverse lookup of the
container's own address gives its container name (``farm_node_3`` from Compose v1, ``farm-node-3`` from v2),
whose trailing number is the replica's ``com.docker.compose.container-number``, the number ``farm`` commands use.
"""

from __future__ import annotations

import re
import socket

import dns.exception
import dns.resolver

REPLICA_NUMBER = re.compile(r"[-_](\d+)$")


class ReplicaNameError(RuntimeError):
    """The engine's DNS does not name this container as a numbered replica."""


def name_from_container_name(container_name: str, prefix: str = "node") -> str:
    first_label = container_name.split(".", 1)[0]
    found = REPLICA_NUMBER.search(first_label)
    if found is None:
        raise ReplicaNameError(
            f"the container's DNS name {container_name!r} has no replica number (expected PROJECT_SERVICE_N or "
            "PROJECT-SERVICE-N): run the node as a compose service, or give --name"
        )
    return f"{prefix}-{int(found.group(1))}"


def replica_name(prefix: str = "node") -> str:
    try:
        address = socket.gethostbyname(socket.gethostname())
        # The resolver itself: socket.gethostbyaddr would answer from /etc/hosts, with the container's hostname.
        answer = dns.resolver.resolve_address(address, lifetime=5)
        container_name = str(answer[0].target).rstrip(".")
    except (OSError, dns.exception.DNSException) as exc:
        raise ReplicaNameError(f"cannot look up this container's name in the engine's DNS: {exc}") from None
    return name_from_container_name(container_name, prefix)
