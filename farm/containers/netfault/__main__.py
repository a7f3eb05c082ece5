"""``python3 -m netfault apply --id f1 --kind partition --port 6379 [--ms MS --jitter-ms J] [--until EPOCH]``: puts
the fault on, says ``applied``, keeps it until SIGTERM, the time ``--until``, or the node's network is gone (the node
stopped: its namespace keeps only ``lo``), then takes it off and says ``healed``. A reset without ``--until`` cuts
the open connections and ends at once. ``python3 -m netfault clear --id f1`` removes what a fault left behind."""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from .nfqueue import DelayQueue
from .rules import IPTABLES, deletions, fault_rules, insert

POLL_S = 0.2


class Stop:
    def __init__(self, until: float | None) -> None:
        self.until = until
        self.asked = False
        signal.signal(signal.SIGTERM, self._ask)
        signal.signal(signal.SIGINT, self._ask)

    def _ask(self, signum: int, frame: FrameType | None) -> None:
        self.asked = True

    def keep_going(self) -> bool:
        if self.asked:
            return False
        if self.until is not None and time.time() >= self.until:
            return False
        return node_network_up()


def node_network_up() -> bool:
    """False once the node's container stopped: its namespace, kept alive by this program, has only ``lo`` left."""
    return any(name != "lo" for _, name in socket.if_nameindex())


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"netfault: `{' '.join(command)}` failed (exit {done.returncode}): {done.stderr.strip()}")


def clear(fault_id: str) -> int:
    listing = subprocess.run([IPTABLES, "-S"], capture_output=True, text=True, check=True).stdout
    removed = 0
    for command in deletions(listing, fault_id):
        subprocess.run(command, capture_output=True, check=False)
        removed += 1
    return removed


def cut_open_connections(port: int) -> None:
    """Destroys the node's sockets to the port: each is aborted, and the peer gets a TCP RST."""
    run(["ss", "-K", "-t", "dport", "=", f":{port}"])


def apply(args: argparse.Namespace) -> int:
    stop = Stop(args.until)
    queue = DelayQueue(args.queue, args.ms, args.jitter_ms) if args.kind == "latency" else None
    try:
        for rule in fault_rules(args.kind, args.port, args.id, args.queue):
            run(insert(rule))
        if args.kind == "reset":
            cut_open_connections(args.port)
        print(f"applied {args.id} {args.kind} port {args.port}", flush=True)
        if args.kind == "reset" and args.until is None:
            return 0
        if queue is not None:
            queue.run(stop.keep_going, POLL_S)
        else:
            while stop.keep_going():
                time.sleep(POLL_S)
    finally:
        clear(args.id)
        if queue is not None:
            queue.close()  # after the rules: nothing new is queued, and what is held goes at once
    print(f"healed {args.id}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netfault")
    commands = parser.add_subparsers(dest="command", required=True)
    on = commands.add_parser("apply")
    on.add_argument("--id", required=True)
    on.add_argument("--kind", choices=("partition", "latency", "reset"), required=True)
    on.add_argument("--port", type=int, required=True)
    on.add_argument("--ms", type=float, default=0.0)
    on.add_argument("--jitter-ms", type=float, default=0.0)
    on.add_argument("--queue", type=int, default=0)
    on.add_argument("--until", type=float, help="wall-clock seconds (the host's clock: containers share it)")
    off = commands.add_parser("clear")
    off.add_argument("--id", required=True)
    args = parser.parse_args(argv)
    if args.command == "clear":
        print(f"cleared {clear(args.id)} rule(s) of {args.id}", flush=True)
        return 0
    return apply(args)


if __name__ == "__main__":
    sys.exit(main())
