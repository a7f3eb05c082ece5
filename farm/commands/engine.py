"""``farm engine start|stop|status``: a Docker Engine by hand, for ``farm up --engine compose`` on a machine where
none runs (no service manager). ``stop`` stops only an engine ``start`` started."""

from __future__ import annotations

import argparse
from pathlib import Path

from farm.containers.owned_engine import EngineSetup, answers, owner_of, start_engine, stop_engine

DEFAULTS = EngineSetup()


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    engine = subparsers.add_parser("engine", help="start, stop or show the Docker Engine the compose farm runs on")
    engine.add_argument("action", choices=("start", "stop", "status"))
    engine.add_argument("--socket", type=Path, default=DEFAULTS.socket, help=f"default {DEFAULTS.socket}")
    engine.add_argument("--data-root", type=Path, default=DEFAULTS.data_root, help=f"default {DEFAULTS.data_root}")
    engine.add_argument("--exec-root", type=Path, default=DEFAULTS.exec_root, help=f"default {DEFAULTS.exec_root}")
    engine.add_argument("--pid-file", type=Path, default=DEFAULTS.pid_file, help=f"default {DEFAULTS.pid_file}")
    engine.add_argument("--log", type=Path, default=DEFAULTS.log, help=f"dockerd's log (default {DEFAULTS.log})")
    engine.add_argument(
        "--private-network",
        action="store_true",
        help="a bridge of its own, no iptables or forwarding: a second engine beside one that runs (never "
        "--bridge=none: dockerd then deletes docker0)",
    )
    engine.set_defaults(handler=cmd_engine)


def cmd_engine(args: argparse.Namespace) -> int:
    setup = EngineSetup(
        socket=args.socket.absolute(),
        data_root=args.data_root.absolute(),
        exec_root=args.exec_root.absolute(),
        pid_file=args.pid_file.absolute(),
        log=args.log.absolute(),
        private_network=args.private_network,
    )
    if args.action == "start":
        if answers(setup.host):
            print(f"engine answers at {setup.host} already: left as it is")
            return 0
        owner = start_engine(setup)
        print(f"engine started at {setup.host}: dockerd pid {owner.pid}, log {setup.log}")
        print(f"stop it with `farm engine stop{_options(args)}`")
        return 0
    if args.action == "stop":
        pid = stop_engine(setup)
        print(f"engine at {setup.host} stopped (dockerd pid {pid})" if pid else f"engine at {setup.host} had stopped")
        return 0
    ours = owner_of(setup)
    if not answers(setup.host):
        print(f"engine: none answers at {setup.host}; start one with `farm engine start{_options(args)}`")
        return 1
    started = f"started by cachefarm (dockerd pid {ours.pid}, log {ours.log})" if ours else "started elsewhere"
    print(f"engine: answers at {setup.host}, {started}")
    return 0


def _options(args: argparse.Namespace) -> str:
    """The non-default options given, so that the hint names the same engine."""
    given = [
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name in ("socket", "data_root", "exec_root", "pid_file")
        if getattr(args, name) != getattr(DEFAULTS, name)
    ]
    return "".join(given)
