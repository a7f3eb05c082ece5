"""Judging an ``expect`` step: each threshold against the figure it names, pass or fail, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from farm.scenario.catalogue import EXPECTED_TO_FAIL
from farm.scenario.figures import Figures


@dataclass(frozen=True)
class Verdict:
    metric: str
    expected: str
    """The threshold as written: ``== 0``, ``<= 1.0``, ``>= 0.95``, ``between 1 and 3``."""
    value: float | None
    passed: bool
    line: int
    """The line of the ``expect`` step in the scenario file."""
    expected_to_fail: bool = False
    """The scenario says this cache falls short here (for this expectation, or for all): a failure is shown, not
    counted."""

    @property
    def name(self) -> str:
        return f"line {self.line}: {self.metric} {self.expected}"

    @property
    def acceptable(self) -> bool:
        return self.passed or self.expected_to_fail


def describe(threshold: Any) -> str:
    if not isinstance(threshold, dict):
        return f"== {threshold:g}"
    low, high = threshold.get("min"), threshold.get("max")
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


def holds(threshold: Any, value: float | None) -> bool:
    """A figure that could not be measured (no reads, no restart) never passes."""
    if value is None:
        return False
    if not isinstance(threshold, dict):
        return abs(value - float(threshold)) < 1e-9
    low, high = threshold.get("min"), threshold.get("max")
    return (low is None or value >= low) and (high is None or value <= high)


def expected_to_fail(threshold: Any, cache: str) -> bool:
    return isinstance(threshold, dict) and cache in threshold.get(EXPECTED_TO_FAIL, ())


def judge(
    thresholds: dict[str, Any], figures: Figures, line: int, *, cache: str = "", cache_falls_short: bool = False
) -> list[Verdict]:
    """``cache_falls_short``: the scenario expects ``cache`` to fail every expectation (its top-level
    ``expected_to_fail``)."""
    verdicts = []
    for metric, threshold in thresholds.items():
        value = figures.values.get(metric)
        known = cache_falls_short or expected_to_fail(threshold, cache)
        verdicts.append(Verdict(metric, describe(threshold), value, holds(threshold, value), line, known))
    return verdicts
