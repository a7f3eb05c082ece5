"""Every figure a scenario measures, in one place: its name, how it is shown, and what it means.

The schema (what an ``expect`` may name), ``measure()``, the terminal table, report.html and
docs/scenarios.md all read this list; a test checks that ``measure()`` returns exactly these names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    """What ``expect`` steps, report.json and history readers call it."""
    label: str
    """The row's name in the terminal table and report.html."""
    format: str
    """A ``str.format`` pattern for one value."""
    meaning: str
    """One or two sentences for the docs."""
    always_shown: bool = False
    """Shown in the tables even when it is zero or not measured."""
    zero_is_news: bool = False
    """A measured zero says something (a ratio); otherwise a row of zeros is left out of the tables."""

    def show(self, value: float | None) -> str:
        return "-" if value is None else self.format.format(value)


EXPECTED_TO_FAIL = "expected_to_fail"
"""The key of a threshold (``{min: 0.9, expected_to_fail: [memory]}``) naming the caches known to fall short of it."""

COUNT, RATIO, MS = "{:,.0f}", "{:.3f}", "{:.1f}"
FIRST_READS_AFTER = 50
"""How many reads a node serves after it restarts (or joins) that count as its "first requests"."""
SIMULTANEOUS_S = 1.0
"""Node starts this close together count as simultaneous: any of them may be the farm's last start time."""

FIGURES: tuple[Figure, ...] = (
    Figure("requests", "requests", COUNT, "Client requests in the phase.", always_shown=True),
    Figure("requests_per_second", "requests/s", COUNT, "Client requests per second of the phase.", always_shown=True),
    Figure(
        "errors",
        "errors",
        COUNT,
        "Client requests that failed: a connection error or a status outside 2xx. Listed by step in the reports.",
        always_shown=True,
    ),
    Figure(
        "shed_requests",
        "shed requests",
        COUNT,
        "Requests a node shed: answered 503 with `Retry-After` and `X-Shed` before it did any work for them (over "
        "its admission limits, or too busy to read the cache's answer in time). They count in `errors` too.",
    ),
    Figure(
        "errors_not_shed",
        "errors not shed",
        COUNT,
        "`errors` less `shed_requests`: the requests that failed for another reason than a node shedding them.",
    ),
    Figure(
        "failed_reads",
        "failed reads",
        COUNT,
        "Reads that failed: a connection error or a status outside 2xx. Not measured without reads.",
    ),
    Figure(
        "refused_writes",
        "refused writes",
        COUNT,
        "Writes the nodes refused with 503 (and `Retry-After`): under the strict write policy, the writes they could "
        "not make coherent, refused before anything was written (shed writes are `shed_requests`). Not measured "
        "without writes.",
    ),
    Figure(
        "hit_ratio",
        "hit ratio",
        RATIO,
        "Share of successful item reads the nodes answered from the cache (`X-Cache: HIT`).",
        always_shown=True,
    ),
    Figure(
        "hit_ratio_after_restart",
        "hit ratio after restart",
        RATIO,
        f"For each node restarted or killed in the phase: the hit ratio of its first {FIRST_READS_AFTER} reads once "
        "it was back.",
        zero_is_news=True,
    ),
    Figure(
        "misses_after_restart",
        "misses after restart",
        COUNT,
        "The misses among those first reads: the source requests the restarts caused.",
        zero_is_news=True,
    ),
    Figure(
        "hit_ratio_after_add",
        "hit ratio of added nodes",
        RATIO,
        "The same for nodes added in the phase: are new nodes warm from their first request?",
        zero_is_news=True,
    ),
    Figure(
        "recovery_s",
        "recovery s",
        "{:.2f}",
        "Seconds from the end of a fault (a step whose events end one, such as `cache: start`) to the start of the "
        "first read after it that the nodes answered from the cache; the longest over the phase's fault ends. Not "
        "measured when the phase has no fault end, or when no hit followed one (the farm never recovered).",
        zero_is_news=True,
    ),
    Figure(
        "source_requests",
        "source requests",
        COUNT,
        "Reads the source store counted itself (not the nodes' counts).",
        always_shown=True,
    ),
    Figure("source_writes", "source writes", COUNT, "Writes the source store counted itself."),
    Figure(
        "source_requests_per_key",
        "source requests per key",
        "{:.2f}",
        "`source_requests` per distinct item the clients read.",
        always_shown=True,
    ),
    Figure(
        "cache_errors",
        "cache errors (nodes)",
        COUNT,
        "Cache calls the nodes counted as failed or timed out in the phase (their `/stats`, read where phases begin "
        "and end; a node that started in the phase counts from its start). A timeout that the node's own busy loop "
        "caused is no cache error: the node sheds that request.",
    ),
    Figure(
        "max_source_reads_per_key_per_node",
        "most source reads of a key by a node",
        COUNT,
        "The most reads of one item the source store served to one node in the phase (its own counts, by node and "
        "item). A node shares a read among the requests that miss the same item: 1 while the cache answers. A node "
        "that turns a backlog into source reads shows more.",
    ),
    Figure(
        "coherence_violations",
        "coherence violations",
        COUNT,
        "The phase's stale reads (below), counted only when the phase itself has an acknowledged write: not measured "
        "in a phase without one. The first few are listed (time, key, node, version seen, version expected).",
        always_shown=True,
    ),
    Figure(
        "stale_reads",
        "stale reads",
        COUNT,
        "Reads in the phase that returned a version older than a write of the same item acknowledged (2xx) before "
        "the read started, in this phase or any earlier one. Not measured when no read of the phase could be judged "
        "(none read an item with an acknowledged write).",
        always_shown=True,
    ),
    Figure(
        "max_staleness_ms",
        "max staleness ms",
        MS,
        "For the stale reads: how long after the acknowledgement of a write they missed the last stale read of that "
        "write started; the longest over the writes. 0 when no read was stale; not measured with `stale_reads`.",
    ),
    Figure(
        "start_time_mismatches",
        "start time mismatches",
        COUNT,
        "Responses whose `Last-Server-Start-Time` is older than the start of the most recently started node, "
        f"for reads that began at least {SIMULTANEOUS_S:g} s after that start. Nodes started within "
        f"{SIMULTANEOUS_S:g} s of each other count as simultaneous.",
    ),
    Figure(
        "cached_time_values",
        "cached time values",
        COUNT,
        "Home page reads (`page: home`): how many different cached times they showed.",
    ),
    Figure(
        "cached_time_expired",
        "cached time expired",
        COUNT,
        "Home page reads that showed the cached time expired.",
        zero_is_news=True,
    ),
    Figure("p50_ms", "p50 ms", MS, "Median client latency, from an HDR histogram.", always_shown=True),
    Figure("p95_ms", "p95 ms", MS, "95th percentile of client latency.", always_shown=True),
    Figure("p99_ms", "p99 ms", MS, "99th percentile of client latency.", always_shown=True),
    Figure("max_ms", "max ms", MS, "The slowest client request."),
)

FIGURE_NAMES: tuple[str, ...] = tuple(f.name for f in FIGURES)


def shown(figure: Figure, values: list[float | None]) -> bool:
    """Whether a table shows this figure's row, given its value for each cache."""
    return figure.always_shown or any(v is not None and (v != 0 or figure.zero_is_news) for v in values)
