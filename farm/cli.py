"""The ``farm`` console script: one parser, a subcommand per module in ``farm/commands``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from farm.commands import sql_cache


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farm", description="Run and test a web farm that shares a cache.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sql_cache.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
