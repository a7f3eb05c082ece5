"""The demo scenario's requests/s on Redis: this checkout against an earlier commit, side by side in one run.

    .venv/bin/python bench/demo.py [--reference COMMIT] [--rounds 2] [--scenario scenarios/demo.yaml]

Checks the reference commit out into a temporary git worktree and runs
`farm run SCENARIO --cache redis` with each tree in turn (reference, current, reference, ...), rounds times
each. Each tree's code is put first on PYTHONPATH, so the farm's processes (supervisord, nodes, proxy,
source store) run it too; both use this checkout's virtualenv. Prints each run's requests/s, as the scenario's
report gives it, and the median of the rounds' ratios.
Target: the current code >= 2x the reference (0bd5a63, the farm before its speed work).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "0bd5a63"
TARGET = 2.0


def requests_per_second(tree: Path, scenario: str, out: Path) -> float:
    environment = dict(os.environ)
    # Each tree first on the path, the current one too: the farm's processes start in their run directory, where
    # an editable install made from another checkout would otherwise be what they import.
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), environment.get("PYTHONPATH")]))
    environment["COLUMNS"] = "100"
    done = subprocess.run(
        [sys.executable, "-m", "farm.cli", "run", scenario, "--cache", "redis", "--out", str(out)],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    report = out / "report.json"
    if not report.exists():
        raise SystemExit(f"farm run in {tree} wrote no report (exit {done.returncode}):\n{done.stderr[-3000:]}")
    (cache,) = json.loads(report.read_text())["caches"]
    rate = cache["figures"].get("requests_per_second")
    if not rate or cache["figures"].get("requests", 0) == 0:
        raise SystemExit(f"farm run in {tree} measured no request: {cache.get('failure')}")
    if cache["figures"].get("errors"):
        print(f"  note: {cache['figures']['errors']} errors in {out}")
    return float(rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default=REFERENCE, help=f"the commit to compare with (default {REFERENCE})")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scenario", default="scenarios/demo.yaml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cachefarm-bench-demo-") as tmp_name:
        tmp = Path(tmp_name)
        old = tmp / "reference"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(old), args.reference], check=True
        )
        try:
            print(f"{args.scenario} on redis, {args.rounds} rounds: requests/s as the report gives them")
            ratios = []
            for round_number in range(1, args.rounds + 1):
                before = requests_per_second(old, args.scenario, tmp / f"old-{round_number}")
                after = requests_per_second(ROOT, args.scenario, tmp / f"new-{round_number}")
                ratios.append(after / before)
                print(
                    f"  round {round_number}: reference {args.reference} {before:>8,.0f}   "
                    f"current {after:>8,.0f}   ratio {after / before:.2f}"
                )
            ratio = statistics.median(ratios)
            verdict = "met" if ratio >= TARGET else "NOT met"
            print(f"current / reference: {ratio:.2f} (target >= {TARGET:g}: {verdict})")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)


if __name__ == "__main__":
    main()
