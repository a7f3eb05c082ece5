"""The commands that run a farm: up, status, add/remove/restart/kill/pause/resume a node, cache, source, down."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from farm.config import CACHE_KINDS, SHARED_CACHES, WRITE_POLICIES, Environment, choose_cache, read_secrets
from farm.engines import ENGINES, farm_at, new_farm
from farm.errors import FarmError
from farm.fault_links import describe_fault
from farm.node_signals import NodeSignal
from farm.ports import port_argument
from farm.source import flags as source_flags
from farm.state import FarmState
from farm.topology import CACHE_ACTIONS
from nodes import flags
from nodes.admission import AdmissionLimits

DEFAULT_RUN_DIR = Path(".farm")


def with_run_dir(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="the farm's folder (default .farm)")
    return parser


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = with_run_dir(subparsers.add_parser("up", help="start a farm and wait until it is healthy"))
    up.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENGINES[0],
        help="processes under supervisord (default), or compose: containers on Docker or podman",
    )
    up.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    up.add_argument("--cache", help=f"{'|'.join(CACHE_KINDS)} or a cache URL (default: by --env)")
    up.add_argument(
        "--env",
        choices=[e.value for e in Environment],
        help="development (memory), staging (redis), production (sql); default $FARM_ENV or development",
    )
    up.add_argument("--proxy-port", type=port_argument, help="the proxy's port (default: a free one)")
    up.add_argument(
        "--item-sliding",
        type=flags.item_lifetime,
        default=300.0,
        help="sliding expiration of cached items, s (0: none)",
    )
    up.add_argument(
        "--source-latency-ms", type=source_flags.latency_ms, default=20.0, help="latency of the source store"
    )
    up.add_argument(
        "--no-cache-persistence",
        dest="cache_persistence",
        action="store_false",
        help="the farm's own cache server starts empty after each stop (default: it keeps its data)",
    )
    up.add_argument(
        "--faults", action="store_true", help="put a fault proxy between each node and its cache and source store"
    )
    up.add_argument(
        "--write-policy",
        choices=WRITE_POLICIES,
        help="strict (default): a write the farm cannot make coherent is refused with 503; "
        "available: it is written and the cache is invalidated once it answers",
    )
    flags.add_admission_arguments(up, whose=" at each node")
    up.set_defaults(handler=cmd_up)

    status = with_run_dir(subparsers.add_parser("status", help="the farm's addresses and processes"))
    status.add_argument("--json", action="store_true", help="as JSON")
    status.set_defaults(handler=cmd_status)

    with_run_dir(subparsers.add_parser("add-node", help="start one more node and add it at the proxy")).set_defaults(
        handler=cmd_add_node
    )
    for command, help_text, handler in (
        ("remove-node", "drain a node at the proxy, then stop and remove it", cmd_remove_node),
        *((f"{signal}-node", signal.effect, _signal(signal)) for signal in NodeSignal),
    ):
        sub = with_run_dir(subparsers.add_parser(command, help=help_text))
        sub.add_argument("name", metavar="NAME")
        sub.set_defaults(handler=handler)

    restart = with_run_dir(subparsers.add_parser("restart-node", help="restart one node, or all"))
    which = restart.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", metavar="NAME")
    which.add_argument("--all", action="store_true", help="every node")
    restart.add_argument("--rolling", action="store_true", help="one at a time, each drained at the proxy first")
    restart.set_defaults(handler=cmd_restart)

    cache = with_run_dir(
        subparsers.add_parser("cache", help="stop, start, pause, resume or restart the farm's own cache server")
    )
    cache.add_argument("action", choices=CACHE_ACTIONS)
    cache.set_defaults(handler=cmd_cache)

    source = with_run_dir(subparsers.add_parser("source", help="change the source store's faults while it runs"))
    source.add_argument("--latency-ms", type=source_flags.latency_ms, help="added to every request")
    source.add_argument("--jitter-ms", type=source_flags.jitter_ms, help="up to this much more, at random")
    source.add_argument(
        "--fail-writes-after-apply",
        type=source_flags.fail_writes_after_apply,
        metavar="SHARE",
        help="share (0 to 1) of writes whose reply is lost",
    )
    source.set_defaults(handler=cmd_source)

    with_run_dir(subparsers.add_parser("down", help="stop everything the farm started")).set_defaults(handler=cmd_down)


def elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.2f} s"


def run_farm_command(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except FarmError as exc:
        print(f"farm {args.command}: error: {exc}", file=sys.stderr)
        return 1


def cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    # Containers run their own cache: a server named in secrets.env is for the farm of processes.
    secrets = read_secrets(Path.cwd(), args.run_dir) if args.engine == "processes" else {}
    cache = choose_cache(args.cache, args.env, secrets)
    if args.write_policy is not None:
        if args.write_policy != WRITE_POLICIES[0] and cache.kind not in SHARED_CACHES:
            raise FarmError(
                f"--write-policy {args.write_policy} needs a shared cache ({', '.join(SHARED_CACHES)} or a URL of "
                f"one), not {cache.describe()}: per-node caches have nothing to keep coherent"
            )
        cache = replace(cache, write_policy=args.write_policy)
    state = new_farm(args.run_dir, args.engine).up(
        nodes=args.nodes,
        cache=cache,
        proxy_port=args.proxy_port,
        item_sliding=args.item_sliding,
        source_latency_ms=args.source_latency_ms,
        cache_persistence=args.cache_persistence,
        fault_links=args.faults,
        admission=AdmissionLimits(
            max_in_flight=args.max_in_flight, max_queue=args.max_queue, queue_timeout=args.queue_timeout_ms / 1000
        ),
    )
    on = " on containers" if args.engine == "compose" else ""
    print(f"farm up{on} in {elapsed(started)}: {len(state.nodes)} nodes, cache {cache.describe()}")
    print(state.proxy_url)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = farm_at(args.run_dir).status()
    running = status.get("running", True)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0 if running else 1
    if not running:
        raise FarmError(f"the farm in {args.run_dir} is down: start it with `farm up --run-dir {args.run_dir}`")
    if status.get("engine") == "compose":
        print(f"engine  compose, project {status['project']}")
    print(f"proxy   {status['proxy']}   (admin token {status['admin_token']})")
    server = f"   ({status['cache_server']} {status['cache_state']})" if status["cache_server"] else ""
    print(f"cache   {status['cache']}{server}   writes {status['write_policy']}")
    faults = status["source_faults"]
    shown = ", ".join(f"{name} {value:g}" for name, value in faults.items()) if faults else "not answering"
    print(f"source  {status['source']}   ({shown})")
    for node in status["nodes"]:
        where = f"container {node['container']}" if node.get("container") else f"pid {node['pid']}"
        print(f"{node['name']:<8}{node['url'] or '-':<26}{node['state']:<10}{where}")
    if status["fault_links"]:
        print(f"faults  {len(status['faults'])} active" + (":" if status["faults"] else ""))
        for fault in status["faults"]:
            print("  " + describe_fault(fault))
    return 0


def cmd_add_node(args: argparse.Namespace) -> int:
    started = time.monotonic()
    name, _ = farm_at(args.run_dir).add_node()
    print(f"{name} added in {elapsed(started)}")
    return 0


def cmd_remove_node(args: argparse.Namespace) -> int:
    farm_at(args.run_dir).remove_node(args.name)
    print(f"{args.name} removed")
    return 0


ON_CONTAINERS = {
    NodeSignal.KILL: "SIGKILL sent to its processes (the engine starts the container again)",
    NodeSignal.PAUSE: "container paused (frozen by the engine)",
    NodeSignal.RESUME: "container resumed",
}


def _signal(signal: NodeSignal) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        farm = farm_at(args.run_dir)
        farm.signal_node(args.name, signal)
        on_containers = FarmState.load(farm.run).engine == "compose"
        print(f"{args.name}: {ON_CONTAINERS[signal] if on_containers else f'SIG{signal.supervisor_name} sent'}")
        return 0

    return handler


def cmd_restart(args: argparse.Namespace) -> int:
    farm = farm_at(args.run_dir)
    names = list(FarmState.load(farm.run).nodes) if args.all else [args.name]
    started = time.monotonic()
    farm.restart_nodes(names, rolling=args.rolling)
    print(f"restarted {', '.join(names)} in {elapsed(started)}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    farm = farm_at(args.run_dir)
    farm.cache_service(args.action)
    print(f"cache {args.action}: {farm.cache_state()}")
    return 0


def cmd_source(args: argparse.Namespace) -> int:
    changes = {
        name: value
        for name in ("latency_ms", "jitter_ms", "fail_writes_after_apply")
        if (value := getattr(args, name)) is not None
    }
    if not changes:
        raise FarmError("give --latency-ms, --jitter-ms or --fail-writes-after-apply")
    faults = farm_at(args.run_dir).source_faults(changes)
    print("source " + ", ".join(f"{name} {value:g}" for name, value in faults.items()))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    farm_at(args.run_dir).down()
    print("farm down")
    return 0
