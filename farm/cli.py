"""The ``farm`` console script: one parser, a subcommand per module in ``farm/commands``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

EXIT_MISSING_EXTRA = 2
EXIT_BROKEN_PIPE = 141
"""As a shell reports a command that SIGPIPE ended: its reader (``| head``) went away."""
_OUR_PACKAGES = {"farm", "nodes", "proxy", "faults"}


def build_parser() -> argparse.ArgumentParser:
    from farm.commands import engine, farm_control, faults, run_scenario, sql_cache

    parser = argparse.ArgumentParser(prog="farm", description="Run and test a web farm that shares a cache.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    farm_control.add_parsers(subparsers)
    faults.add_parsers(subparsers)
    sql_cache.add_parser(subparsers)
    run_scenario.add_parser(subparsers)
    engine.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The commands import the farm's dependencies, which a plain `pip install cachefarm` (the cache library
    # alone) leaves out: say what to install instead of showing a traceback.
    # Commands import what they need when they run, so the check covers running them too.
    try:
        from farm.commands.farm_control import run_farm_command

        args = build_parser().parse_args(argv)
        return run_farm_command(args.handler, args)
    except BrokenPipeError:
        # Nothing more can reach the reader; the interpreter's own flush at exit must not fail on it too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if not missing or missing in _OUR_PACKAGES:
            raise
        print(f"farm: {missing} is missing; the farm needs its extra: pip install 'cachefarm[farm]'", file=sys.stderr)
        return EXIT_MISSING_EXTRA


if __name__ == "__main__":
    sys.exit(main())
