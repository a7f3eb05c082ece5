"""``farm run FILE``: run a scenario once per cache on a fresh farm, compare them, write the reports.

Exit codes: 0 every expectation held (or failed only where the scenario expects that cache to fall
short), 1 an expectation failed or a farm broke, 2 a bad file or option (nothing ran), 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from farm.config import CACHE_VARIANTS, read_secrets
from farm.engines import ENGINES

if TYPE_CHECKING:
    from farm.scenario.result import CacheResult
    from farm.scenario.spec import Scenario

EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a scenario file on fresh farms, one per cache, and report",
        description="Run a scenario (scenarios/*.yaml) once per cache on a fresh farm, judge its expectations, "
        "and write report.json, junit.xml, history.jsonl and report.html.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the scenario file")
    parser.add_argument("--cache", help=f"comma-separated, from {','.join(CACHE_VARIANTS)} (default: the scenario's)")
    parser.add_argument("--out", type=Path, help="folder for the reports (default results/<scenario>-<time>/)")
    parser.add_argument("--seed", type=int, help="seed every load step from this (default: each step's own)")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENGINES[0],
        help="run each farm as processes (default) or as compose containers on Docker or podman",
    )
    parser.set_defaults(handler=run)


def parse_caches(text: str | None, scenario: Scenario) -> list[str]:
    if text is None:
        return list(scenario.farm.caches)
    caches = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [c for c in caches if c not in CACHE_VARIANTS]
    if unknown or not caches:
        found = ", ".join(unknown) or "empty list"
        raise ValueError(f"--cache {text!r}: unknown {found}; use {','.join(CACHE_VARIANTS)}")
    return list(dict.fromkeys(caches))


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean teardown as Ctrl-C


def run(args: argparse.Namespace) -> int:
    # Imported here, not above: every `farm` command builds this parser, and only `farm run` needs the scenario
    # machinery (matplotlib and rich alone take a second to import).
    from rich.console import Console

    from farm.scenario.errors import ScenarioSpecError
    from farm.scenario.fresh_farm import INTERRUPTED, run_caches
    from farm.scenario.live import LiveView
    from farm.scenario.report.outputs import write_reports
    from farm.scenario.report.table import print_summary
    from farm.scenario.spec import load_scenario

    console = Console()
    try:
        scenario = load_scenario(args.file)
        caches = parse_caches(args.cache, scenario)
    except ScenarioSpecError as exc:
        for problem in exc.problems:
            print(f"farm run: {problem}", file=sys.stderr)
        print(f"farm run: {len(exc.problems)} problem(s); nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        print(f"farm run: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    started = datetime.now(UTC).isoformat(timespec="seconds")
    out: Path = args.out or Path("results") / f"{scenario.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    results: list[CacheResult] = []
    try:
        with LiveView(console, scenario, caches) as view:
            secrets = read_secrets(Path.cwd())
            results = run_caches(scenario, caches, out, view=view, seed=args.seed, secrets=secrets, engine=args.engine)
    finally:
        signal.signal(signal.SIGTERM, previous)
    write_reports(out, scenario, results, started)
    print_summary(console, results, scenario.name)
    console.print(f"report: {out / 'report.html'}")
    if any(r.failure == INTERRUPTED for r in results):
        return EXIT_INTERRUPTED
    return EXIT_PASSED if all(r.acceptable for r in results) else EXIT_FAILED
