"""The terminal view while a scenario runs: the step, a progress bar, requests/s, hit ratio and errors.

On a terminal it redraws in place (rich ``Live``); in a log (CI) it prints one line per step instead.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from farm.scenario.expectations import Verdict
from farm.scenario.result import CacheResult
from farm.scenario.spec import Scenario


def last_second(result: CacheResult, now: float) -> tuple[int, float | None]:
    """Requests that ended in the last second, and their hit ratio."""
    count, reads, hits = result.records.ended_since(now - 1)
    return count, hits / reads if reads else None


class LiveView:
    def __init__(self, console: Console, scenario: Scenario, caches: list[str]) -> None:
        self.console = console
        self.scenario = scenario
        self.caches = caches
        self.cache = ""
        self.result: CacheResult | None = None
        self.epoch = time.monotonic()
        self.index = 0
        self.label = "starting the farm"
        self.live = Live(get_renderable=self.render, console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            self.live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.live.is_started:
            self.live.stop()

    def starting(self, cache: str) -> None:
        self.cache, self.result, self.index, self.label = cache, None, 0, "starting the farm"
        if not self.console.is_terminal:
            self.console.print(f"[bold]{self.scenario.name}[/] with cache [bold]{cache}[/]: starting the farm")

    def started(self, result: CacheResult, epoch: float) -> None:
        self.result, self.epoch = result, epoch

    def step(self, cache: str, index: int, label: str) -> None:
        self.index, self.label = index, label
        if not self.console.is_terminal:
            self.console.print(f"  {cache}: {label}")

    def verdicts(self, cache: str, verdicts: list[Verdict]) -> None:
        for verdict in verdicts:
            shown = "not measured" if verdict.value is None else f"{verdict.value:.4g}"
            mark = (
                "[green]pass[/]"
                if verdict.passed
                else "[yellow]fail (expected)[/]"
                if verdict.expected_to_fail
                else "[bold red]FAIL[/]"
            )
            self.console.print(f"  {cache}: {mark} {verdict.metric} = {shown} (expected {verdict.expected})")

    def render(self) -> RenderableType:
        steps = len(self.scenario.steps)
        position = f"cache {self.cache} ({self.caches.index(self.cache) + 1}/{len(self.caches)})" if self.cache else ""
        head = Text.assemble((self.scenario.name, "bold"), "  ", position)
        bar = ProgressBar(total=steps, completed=max(0, self.index - 1), width=40)
        figures = Table.grid(padding=(0, 3))
        if self.result is not None:
            now = time.monotonic() - self.epoch
            rate, ratio = last_second(self.result, now)
            errors = self.result.records.errors
            figures.add_row(
                f"requests/s {rate:,}",
                f"hit ratio {'-' if ratio is None else f'{ratio:.2f}'}",
                f"errors {errors:,}",
                f"requests {len(self.result.records):,}",
                f"{now:.0f} s",
            )
        step = Text(f"step {self.index}/{steps}: {self.label}")
        return Panel(Group(head, bar, step, figures), expand=False)
