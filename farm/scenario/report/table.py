"""The comparison at the end of a run: one column per cache, figures then expectations, pass or fail."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from farm.scenario.expectations import Verdict
from farm.scenario.runner import CacheResult

ROWS = (
    ("requests", "requests", "{:,.0f}"),
    ("requests_per_second", "requests/s", "{:,.0f}"),
    ("errors", "errors", "{:,.0f}"),
    ("hit_ratio", "hit ratio", "{:.3f}"),
    ("hit_ratio_after_restart", "hit ratio after restart", "{:.3f}"),
    ("misses_after_restart", "misses after restart", "{:,.0f}"),
    ("hit_ratio_after_add", "hit ratio of added nodes", "{:.3f}"),
    ("source_requests", "source requests", "{:,.0f}"),
    ("source_requests_per_key", "source requests per key", "{:.2f}"),
    ("coherence_violations", "coherence violations", "{:,.0f}"),
    ("start_time_mismatches", "start time mismatches", "{:,.0f}"),
    ("cached_time_values", "cached time values", "{:,.0f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p95_ms", "p95 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
)
ALWAYS = {"requests", "requests_per_second", "errors", "hit_ratio", "source_requests", "source_requests_per_key",
          "coherence_violations", "p50_ms", "p95_ms", "p99_ms"}  # fmt: skip


def _format(pattern: str, value: float | None) -> str:
    return "-" if value is None else pattern.format(value)


def figures_table(results: list[CacheResult], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    for result in results:
        table.add_column(result.cache, justify="right")
    for metric, label, pattern in ROWS:
        values = [r.figures.values.get(metric) if r.figures else None for r in results]
        if metric in ALWAYS or any(v is not None and v != 0 for v in values):
            table.add_row(label, *(_format(pattern, v) for v in values))
    return table


def _verdict_cell(verdict: Verdict | None, expected_to_fail: bool) -> Text:
    if verdict is None:
        return Text("-")
    shown = "not measured" if verdict.value is None else f"{verdict.value:.4g}"
    if verdict.passed:
        return Text(f"pass {shown}", style="green")
    if expected_to_fail:
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
        cells = (_verdict_cell(v, r.expected_to_fail) for v, r in zip(found, results, strict=True))
        table.add_row(name, *cells)
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
