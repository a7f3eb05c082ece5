"""Network faults on a farm started with `farm up --faults`: partition, latency, reset, heal."""

from __future__ import annotations

import argparse
import math

from farm.commands.farm_control import with_run_dir
from farm.engines import farm_at
from farm.errors import FarmError
from farm.fault_links import TARGETS, describe_fault


def _nodes(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: give node names separated by commas, e.g. node-1,node-2")
    return names


def _number(text: str, *, zero_allowed: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number")
    if value < 0 or (value == 0 and not zero_allowed):
        raise argparse.ArgumentTypeError(
            f"{text!r}: must not be negative" if zero_allowed else f"{text!r}: give a positive number"
        )
    return value


def _positive(text: str) -> float:
    return _number(text, zero_allowed=False)


def _not_negative(text: str) -> float:
    return _number(text, zero_allowed=True)


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def fault_parser(name: str, help_text: str, direction: str) -> argparse.ArgumentParser:
        sub = with_run_dir(subparsers.add_parser(name, help=help_text))
        sub.add_argument(f"--{direction}", dest="target", choices=TARGETS, required=True, help="which links")
        sub.add_argument("--nodes", type=_nodes, help="node-1,node-2 (default: every node)")
        sub.add_argument("--duration-s", type=_positive, help="heal by itself after this many seconds")
        return sub

    fault_parser("partition", "cut nodes off from their cache or the source store (bytes held)", "from").set_defaults(
        handler=cmd_fault, kind="partition"
    )
    latency = fault_parser("latency", "delay every chunk on the nodes' links", "to")
    latency.add_argument("--ms", type=_not_negative, required=True, help="delay of each chunk, ms")
    latency.add_argument("--jitter-ms", type=_not_negative, default=0.0, help="± uniform jitter, ms (at most --ms)")
    latency.set_defaults(handler=cmd_fault, kind="latency")
    fault_parser("reset", "cut the nodes' open connections with TCP RST", "to").set_defaults(
        handler=cmd_fault, kind="reset"
    )

    heal = with_run_dir(
        subparsers.add_parser(
            "heal",
            help="end every fault: network faults, a paused or stopped cache, the source store's latency and lost "
            "replies; with --nodes or --from, only those network links",
        )
    )
    heal.add_argument("--nodes", type=_nodes, help="only these nodes' links")
    heal.add_argument("--from", dest="target", choices=TARGETS, help="only the links to this")
    heal.set_defaults(handler=cmd_heal)


def cmd_fault(args: argparse.Namespace) -> int:
    parameters = {"ms": args.ms, "jitter_ms": args.jitter_ms} if args.kind == "latency" else {}
    if args.kind == "latency" and args.jitter_ms > args.ms:
        raise FarmError(f"--jitter-ms {args.jitter_ms:g} is more than --ms {args.ms:g}: a delay cannot be negative")
    fault = farm_at(args.run_dir).fault(args.kind, args.target, args.nodes, duration_s=args.duration_s, **parameters)
    print(describe_fault(fault))
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    farm = farm_at(args.run_dir)
    if args.nodes is None and args.target is None:
        ended = farm.heal_everything()
        print("\n".join(ended) if ended else "no fault to heal")
        return 0
    healed = farm.heal(args.nodes, args.target)
    for fault in healed:
        print(f"healed {fault['id']} {fault['kind']} on {', '.join(fault['links'])}")
    if not healed:
        print("no network fault to heal")
    return 0
