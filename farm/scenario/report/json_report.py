"""report.json: every figure of the table, per cache, the expectations, events and per-second series."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from farm.scenario.report.series import series
from farm.scenario.result import CacheResult
from farm.scenario.spec import Scenario


def _clean(value: Any) -> Any:
    """NaN (a second without reads has no hit ratio) becomes null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def cache_report(result: CacheResult) -> dict[str, Any]:
    figures = result.figures
    return {
        "cache": result.cache,
        "passed": result.passed,
        "expected_to_fail": result.expected_to_fail,
        "failure": result.failure,
        "seconds": round(result.seconds, 3),
        "figures": figures.values if figures else {},
        "errors_by_step": figures.errors_by_step if figures else {},
        "first_coherence_violations": [asdict(v) for v in figures.first_violations] if figures else [],
        "expectations": [{**asdict(v), "name": v.name} for v in result.verdicts],
        "events": [asdict(e) for e in result.events],
        "node_starts": [asdict(s) for s in result.starts],
        "per_second": series(result),
    }


def build_report(scenario: Scenario, results: list[CacheResult], started: str) -> dict[str, Any]:
    report: dict[str, Any] = _clean(
        {
            "scenario": scenario.name,
            "file": scenario.file,
            "description": scenario.description,
            "started": started,
            "passed": all(r.acceptable for r in results),
            "expected_to_fail": list(scenario.expected_to_fail),
            "farm": asdict(scenario.farm),
            "caches": [cache_report(r) for r in results],
        }
    )
    return report


def write_json_report(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")
