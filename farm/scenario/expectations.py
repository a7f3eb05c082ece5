"""Judging an ``expect`` step: each threshold against the figure it names, pass or fail, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

    @property
    def name(self) -> str:
        return f"line {self.line}: {self.metric} {self.expected}"


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


def judge(thresholds: dict[str, Any], figures: Figures, line: int) -> list[Verdict]:
    verdicts = []
    for metric, threshold in thresholds.items():
        value = figures.values.get(metric)
        verdicts.append(Verdict(metric, describe(threshold), value, holds(threshold, value), line))
    return verdicts
