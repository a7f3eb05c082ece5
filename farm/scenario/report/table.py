"""The comparison at the end of a run: one column per cache, figures then expectations, pass or fail."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from farm.scenario.catalogue import FIGURES, shown
from farm.scenario.expectations import Verdict
from farm.scenario.result import CacheResult


def figures_table(results: list[CacheResult], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    for result in results:
        table.add_column(result.cache, justify="right")
    for figure in FIGURES:
        values = [r.figures.values.get(figure.name) if r.figures else None for r in results]
        if shown(figure, values):
            table.add_row(figure.label, *(figure.show(v) for v in values))
    return table


def _verdict_cell(verdict: Verdict | None) -> Text:
    if verdict is None:
        return Text("-")
    shown = "not measured" if verdict.value is None else f"{verdict.value:.4g}"
    if verdict.passed:
        return Text(f"pass {shown}", style="green")
    if verdict.expected_to_fail:
        return Text(f"fail {shown} (expected)", style="yellow")
    return Text(f"FAIL {shown}", style="bold red")


def expectations_table(results: list[CacheResult]) -> Table | None:
    names = list(dict.fromkeys(v.name for r in results for v in r.verdicts))
    if not names:
        return None
    table = Table(title="expectations", title_justify="left")
    table.add_column("expectation")
    for result in results:
        table.add_column(result.cache, justify="right")
    for name in names:
        found = [next((v for v in r.verdicts if v.name == name), None) for r in results]
        table.add_row(name, *map(_verdict_cell, found))
    return table


def summary(results: list[CacheResult], scenario: str) -> Group:
    parts: list[Table | Text] = [figures_table(results, f"scenario {scenario}")]
    expectations = expectations_table(results)
    if expectations is not None:
        parts.append(expectations)
    for result in results:
        if result.failure:
            parts.append(Text(f"{result.cache}: stopped early: {result.failure}", style="bold red"))
        if result.figures and result.figures.errors_by_step:
            steps = ", ".join(f"{step}: {count:,}" for step, count in result.figures.errors_by_step.items())
            parts.append(Text(f"{result.cache}: failed requests by step: {steps}"))
        if result.figures and result.figures.first_violations:
            first = ", ".join(
                f"{v.time:.2f}s key {v.key} on {v.node} saw v{v.seen} (expected v{v.expected})"
                for v in result.figures.first_violations[:3]
            )
            parts.append(Text(f"{result.cache}: first coherence violations: {first}"))
    return Group(*parts)


def print_summary(console: Console, results: list[CacheResult], scenario: str) -> None:
    console.print(summary(results, scenario))
