"""Scenarios from a test: a file or a mapping, run as `farm run` runs them, with the figures and verdicts back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from farm.config import CACHE_VARIANTS
from farm.scenario.expectations import Verdict
from farm.scenario.fresh_farm import INTERRUPTED, run_caches
from farm.scenario.report.outputs import write_reports
from farm.scenario.result import CacheResult
from farm.scenario.runner import QuietView
from farm.scenario.spec import Scenario, load_scenario, parse_scenario

ScenarioSource = Path | str | dict[str, Any]
"""A scenario file's path, or the file's content as a mapping."""


@dataclass(frozen=True, repr=False)
class ScenarioOutcome:
    """What a scenario run produced, per cache, and where its reports are."""

    scenario: Scenario
    results: dict[str, CacheResult]
    out: Path

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "failed"
        return f"<ScenarioOutcome {self.scenario.name} on {', '.join(self.results)}: {verdict}; reports in {self.out}>"

    @property
    def passed(self) -> bool:
        """What `farm run`'s exit code goes by: every cache held its expectations (or was expected to fail)."""
        return all(r.acceptable for r in self.results.values())

    def figures(self, cache: str) -> dict[str, float | None]:
        figures = self.results[cache].figures
        return dict(figures.values) if figures is not None else {}

    def verdicts(self, cache: str) -> list[Verdict]:
        return list(self.results[cache].verdicts)

    def failures(self) -> list[str]:
        """Each failed expectation or broken run, as a line a test can show, then where the reports are."""
        lines = []
        for cache, result in self.results.items():
            if result.failure:
                lines.append(f"{cache}: stopped early: {result.failure}")
            lines += [f"{cache}: {v.name} (was {v.value})" for v in result.verdicts if not v.acceptable]
        return [*lines, f"reports and farm logs: {self.out}"] if lines else []


class RunScenario(Protocol):
    """The ``run_scenario`` fixture: a scenario on fresh farms, one per cache."""

    def __call__(
        self,
        source: ScenarioSource,
        *,
        caches: list[str] | None = None,
        seed: int | None = None,
        engine: str = "processes",
    ) -> ScenarioOutcome: ...


class QuietCacheView(QuietView):
    def starting(self, cache: str) -> None:
        pass


def read_scenario(source: ScenarioSource) -> Scenario:
    """A path to a file, or the file's content as a mapping (its lines are those of its YAML dump)."""
    if isinstance(source, dict):
        return parse_scenario(yaml.safe_dump(source, sort_keys=False), f"<scenario {source.get('name', '?')}>")
    return load_scenario(Path(source))


def run_scenario(
    source: ScenarioSource,
    *,
    out: Path,
    caches: list[str] | None = None,
    seed: int | None = None,
    engine: str = "processes",
) -> ScenarioOutcome:
    """Runs a scenario once per cache (default: the scenario's own), each on a fresh farm of its own, and writes
    its reports to ``out`` as `farm run` does. Raises ``ScenarioSpecError`` for a bad scenario and ``ValueError``
    for an unknown cache, before anything runs; re-raises ``KeyboardInterrupt`` once the farms are down and the
    reports written. Like the ``farm`` fixture, it reads no ``FARM_*`` variable and no ``secrets.env``.

    ``engine="compose"`` runs each farm as compose containers (a container engine must answer).

    Blocking: from an async test, call it through ``asyncio.to_thread``."""
    scenario = read_scenario(source)
    chosen = caches or list(scenario.farm.caches)
    unknown = [c for c in chosen if c not in CACHE_VARIANTS]
    if unknown:
        raise ValueError(f"caches {unknown}: use {', '.join(CACHE_VARIANTS)}")
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    results = run_caches(scenario, chosen, out, view=QuietCacheView(), seed=seed, secrets={}, engine=engine)
    write_reports(out, scenario, results, started)
    if any(r.failure == INTERRUPTED for r in results):
        raise KeyboardInterrupt
    return ScenarioOutcome(scenario, {r.cache: r for r in results}, out)
