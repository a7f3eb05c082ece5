"""The ``farm`` console script: one parser, a subcommand per module in ``farm/commands``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from farm.commands import farm_control, run_scenario, sql_cache


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farm", description="Run and test a web farm that shares a cache.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    farm_control.add_parsers(subparsers)
    sql_cache.add_parser(subparsers)
    run_scenario.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return farm_control.run_farm_command(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
