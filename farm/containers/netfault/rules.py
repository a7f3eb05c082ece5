"""The iptables rules of each fault kind on a node's link (its traffic to one TCP port), as argument lists. Every
rule carries the comment ``cachefarm <fault id>``, so that a fault's rules can always be found and removed.

iptables-legacy, not iptables-nft: the nft backend turns ``NFQUEUE`` into nft's ``queue``, which not every kernel
has; the legacy tables work wherever the node's namespace has iptables at all.
"""

from __future__ import annotations

import shlex

IPTABLES = "iptables-legacy"
COMMENT_PREFIX = "cachefarm "


def comment(fault_id: str) -> list[str]:
    return ["-m", "comment", "--comment", COMMENT_PREFIX + fault_id]


def fault_rules(kind: str, port: int, fault_id: str, queue: int | None = None) -> list[list[str]]:
    """``[chain, match..., -j, target...]`` for each rule the fault needs while it lasts.

    partition: the node's packets to the port and the replies from it are dropped both ways, so TCP retransmits
    what was sent once the rules go (bytes held, delivered late); latency: both ways through the delaying queue;
    reset: every packet the node sends to the port is answered with a TCP RST (its connections, open or new, fail).
    """
    out = ["-p", "tcp", "--dport", str(port), *comment(fault_id)]
    back = ["-p", "tcp", "--sport", str(port), *comment(fault_id)]
    if kind == "partition":
        return [["OUTPUT", *out, "-j", "DROP"], ["INPUT", *back, "-j", "DROP"]]
    if kind == "latency":
        if queue is None:
            raise ValueError("latency needs a queue number")
        target = ["-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass"]
        return [["OUTPUT", *out, *target], ["INPUT", *back, *target]]
    if kind == "reset":
        return [["OUTPUT", *out, "-j", "REJECT", "--reject-with", "tcp-reset"]]
    raise ValueError(f"fault kind {kind!r}: use partition, latency or reset")


def insert(rule: list[str]) -> list[str]:
    """Partitions and resets go first, so that they hold even over a latency on the same link."""
    chain, *spec = rule
    if "NFQUEUE" in spec:
        return [IPTABLES, "-A", chain, *spec]
    return [IPTABLES, "-I", chain, "1", *spec]


def deletions(listing: str, fault_id: str) -> list[list[str]]:
    """The commands that delete this fault's rules, from ``iptables -S`` output."""
    wanted = f'--comment "{COMMENT_PREFIX}{fault_id}"'
    commands = []
    for line in listing.splitlines():
        if line.startswith("-A ") and wanted in line:
            commands.append([IPTABLES, "-D", *shlex.split(line)[1:]])
    return commands
