"""Figures, expectations and the live view on hand-made histories: pure logic."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.console import Console

from farm.scenario.catalogue import FIGURE_NAMES, FIGURES
from farm.scenario.coherence import WriteIndex
from farm.scenario.columns import RecordColumns
from farm.scenario.expectations import describe, holds, judge
from farm.scenario.figures import Figures, NodeStart, SourceCount, first_reads_after, measure, start_time_mismatches
from farm.scenario.history import HOME_KEY, Event, Record
from farm.scenario.live import LiveView, last_second
from farm.scenario.report.html_report import render_html
from farm.scenario.report.table import figures_table
from farm.scenario.result import CacheResult
from farm.scenario.spec import parse_scenario
from farm.scenario.tally import Tally

EPOCH_WALL = 1_800_000_000.0


def iso(seconds_since_epoch: float) -> str:
    moment = datetime.fromtimestamp(EPOCH_WALL + seconds_since_epoch, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def page(start: float, node: str, last_start: float, cached: str | None = "t1") -> Record:
    return Record(start, start + 0.01, node, HOME_KEY, "GET", 200, None, None, "pages", iso(last_start), cached)


def item(start: float, node: str, hit: bool, key: int = 1) -> Record:
    return Record(start, start + 0.01, node, key, "GET", 200, 1, hit, "load")


def test_thresholds_read_as_written_and_an_unmeasured_figure_fails() -> None:
    assert [describe(0), describe({"min": 0.95}), describe({"max": 1.0}), describe({"min": 1, "max": 3})] == [
        "== 0",
        ">= 0.95",
        "<= 1",
        "between 1 and 3",
    ]
    assert holds(0, 0.0)
    assert not holds(0, 1.0)
    assert holds({"min": 0.95}, 0.95)
    assert not holds({"max": 1.0}, 1.01)
    assert not holds({"min": 0}, None)
    verdicts = judge({"errors": 0, "hit_ratio": {"min": 0.9}}, Figures({"errors": 2, "hit_ratio": None}), line=7)
    assert [(v.name, v.value, v.passed) for v in verdicts] == [
        ("line 7: errors == 0", 2, False),
        ("line 7: hit_ratio >= 0.9", None, False),
    ]


def test_the_first_reads_of_a_node_once_it_is_back_from_a_restart() -> None:
    records = [item(0.5, "node-1", False), item(1.5, "node-1", True), item(1.6, "node-2", False)]
    records += [item(2.0 + i / 100, "node-1", i % 2 == 0) for i in range(60)]
    tally = Tally(WriteIndex())
    for record in records:
        tally.add(record)
    chosen = first_reads_after(tally.node_reads, [Event(1.0, 1.4, "restart", "node-1", "restart")], ("restart",))
    assert chosen == [True] + [i % 2 == 0 for i in range(49)], "node-1's first 50 reads from 1.5 s on"
    figures = measure(records, source=SourceCount(3), events=[Event(1.0, 1.4, "restart", "node-1", "r")])
    assert figures.values["misses_after_restart"] == 24
    assert figures.values["hit_ratio_after_add"] is None


def test_last_server_start_time_must_be_the_latest_start_a_second_after_it() -> None:
    starts = [NodeStart("node-1", 0.0), NodeStart("node-2", 0.3), NodeStart("node-1", 10.0)]
    records = [
        page(2.0, "node-1", last_start=0.0),  # node-2 started with node-1: simultaneous, fine
        page(10.5, "node-2", last_start=0.3),  # within a second of node-1's restart: not judged yet
        page(11.5, "node-1", last_start=10.0),  # the latest start: fine
        page(11.6, "node-2", last_start=0.3),  # still the old start time: a mismatch
    ]
    tally = Tally(WriteIndex())
    for record in records:
        tally.add(record)
    assert start_time_mismatches(tally, starts, EPOCH_WALL) == 1
    figures = measure(
        [*records, page(12.0, "node-1", 10.0, cached=None)], source=SourceCount(), starts=starts, epoch_wall=EPOCH_WALL
    )
    assert figures.values["cached_time_values"] == 1
    assert figures.values["cached_time_expired"] == 1
    assert figures.values["source_requests_per_key"] is None, "home page reads are not items"


def test_the_live_view_shows_the_step_and_the_last_second() -> None:
    scenario = parse_scenario("name: s\nsteps:\n  - load: {requests: 4}\n  - wait: 1\n")
    out = io.StringIO()
    view = LiveView(Console(file=out, width=100, force_terminal=False), scenario, ["memory", "redis"])
    view.starting("redis")
    result = CacheResult("redis", records=RecordColumns([item(0.1, "node-1", True), item(0.2, "node-2", False)]))
    view.started(result, epoch=0.0)
    view.step("redis", 1, "1. load 4 requests x10")
    view.console.print(view.render())
    shown = out.getvalue()
    assert "redis: starting the farm" in shown
    assert "redis: 1. load 4 requests x10" in shown
    assert "cache redis (2/2)" in shown
    assert "step 1/2: 1. load 4 requests x10" in shown
    assert "requests 2" in shown


def test_the_live_views_last_second_counts_requests_that_ended_in_it_and_the_hit_ratio_of_answered_reads() -> None:
    records = RecordColumns(
        [
            item(0.5, "node-1", True),  # ended before the last second
            item(1.2, "node-1", True),
            item(1.3, "node-2", False),
            Record(1.4, 1.5, "node-1", 1, "PUT", 200, 2, None, "load"),  # a write: no hit or miss
            Record(1.5, 1.6, "node-2", 1, "GET", 503, None, True, "load"),  # not answered 2xx
            Record(1.6, 1.7, "node-3", 1, "GET", 200, 1, None, "load"),  # no X-Cache header
            item(1.7, "node-3", True),
        ]
    )
    count, ratio = last_second(CacheResult("redis", records=records), now=2.0)
    assert (count, ratio) == (6, 2 / 3)
    assert last_second(CacheResult("redis", records=RecordColumns()), now=2.0) == (0, None)


@pytest.mark.parametrize("seconds", [None, 2.0])
def test_requests_per_second_over_the_phase(seconds: float | None) -> None:
    records = [item(0.0, "node-1", True), item(0.99, "node-1", True)]
    figures = measure(records, source=SourceCount(), seconds=seconds)
    assert figures.values["requests_per_second"] == pytest.approx(2 / (seconds or 1.0))


@pytest.mark.parametrize("history", ["empty", "busy"])
def test_measure_returns_exactly_the_catalogued_figures(history: str) -> None:
    records = [] if history == "empty" else [item(0.1, "node-1", True), page(0.2, "node-2", 0.0)]
    events = [Event(0.0, 0.05, "restart", "node-1", "restart node-1")] if records else []
    figures = measure(records, source=SourceCount(2, 1), events=events, starts=[NodeStart("node-1", 0.0)])
    assert list(figures.values) == list(FIGURE_NAMES)


def test_every_catalogued_figure_has_a_row_in_both_tables_once_it_has_a_value() -> None:
    scenario = parse_scenario("name: s\nsteps:\n  - wait: 1\n")
    measured = CacheResult("redis", figures=Figures(dict.fromkeys(FIGURE_NAMES, 1.0)))
    out = io.StringIO()
    Console(file=out, width=300).print(figures_table([measured], "t"))
    html = render_html(scenario, [measured], "now")
    for figure in FIGURES:
        assert f"{figure.label} " in out.getvalue(), figure.name
        assert f"<td>{figure.label}</td>" in html, figure.name


def test_a_row_of_zeros_is_left_out_unless_a_zero_says_something() -> None:
    zeros = CacheResult("memory", figures=Figures(dict.fromkeys(FIGURE_NAMES, 0.0)))
    out = io.StringIO()
    Console(file=out, width=300).print(figures_table([zeros], "t"))
    assert "hit ratio after restart" in out.getvalue(), "a measured ratio of 0 is news"
    assert "coherence violations" in out.getvalue(), "always shown"
    assert "start time mismatches" not in out.getvalue(), "0 mismatches without home page reads says nothing"


def test_shed_requests_are_errors_of_their_own_and_not_refused_writes() -> None:
    shed_read = Record(1.0, 1.01, "node-1", 1, "GET", 503, None, None, "load", shed=True)
    shed_write = Record(1.1, 1.11, "node-1", 2, "PUT", 503, None, None, "load", shed=True)
    refused = Record(1.2, 1.21, "node-2", 2, "PUT", 503, None, None, "load")
    failed = Record(1.3, 1.31, None, 3, "GET", 0, None, None, "load")
    values = measure([item(0.5, "node-1", True), shed_read, shed_write, refused, failed], source=SourceCount()).values
    assert (values["errors"], values["shed_requests"], values["errors_not_shed"]) == (4, 2, 2)
    assert values["refused_writes"] == 1
    columns = RecordColumns([shed_read, refused])
    assert [r.shed for r in columns] == [True, False], "the compact columns keep it"


def test_the_most_source_reads_of_a_key_by_a_node() -> None:
    records = [item(0.5, "node-1", False, key=1), item(0.6, "node-2", False, key=2)]
    by_node = {"node-1": {"1": 1, "2": 0}, "node-2": {"1": 1, "2": 3}}
    assert measure(records, source=SourceCount(5, 0, by_node)).values["max_source_reads_per_key_per_node"] == 3
    unread = measure(records, source=SourceCount(5)).values["max_source_reads_per_key_per_node"]
    assert unread is None, "not measured when the source store's counts by node were not read"
