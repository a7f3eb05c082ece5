"""A node's counters, served as JSON (/stats) and in Prometheus's format (/metrics)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

HELP = {
    "requests": "HTTP requests served",
    "hits": "item reads answered from the cache",
    "misses": "item reads that went to the source store",
    "source_calls": "requests sent to the source store",
    "cache_errors": "cache calls that failed or timed out (the request was served anyway)",
    "refused_writes": "writes refused before anything was written: the cache could not be kept coherent",
    "uncertain_writes": "writes answered 503 that may have been applied (cache or source did not confirm)",
    "unguarded_writes": "writes applied without the cache's lock (write policy 'available', cache unreachable)",
    "busy_writes": "writes answered 503 because another write of the item held its lock too long",
    "debts_owed": "cache invalidations and lock releases the node could not make and owes the cache",
    "debts_paid": "owed invalidations and lock releases made once the cache answered",
    "shed": "item requests answered 503 with Retry-After before any work: the node was over its admission limits, "
    "or too busy to read the cache's answer in time",
}
FIELDS = tuple(HELP)


class NodeCounters:
    """Plain integers, counted on every request, for /stats; a registry of this node's own (never the global one)
    turns them into Prometheus counters only when /metrics is read. A prometheus_client Counter per increment would
    take a lock on every request."""

    def __init__(self, node: str) -> None:
        self.values = dict.fromkeys(FIELDS, 0)
        self.registry = CollectorRegistry()
        self.registry.register(_Exported(self.values, node, time.time()))

    def add(self, name: str, amount: int = 1) -> None:
        self.values[name] += amount

    def prometheus_text(self) -> bytes:
        return generate_latest(self.registry)


class _Exported(Collector):
    """The counters as ``farm_node_<name>_total{node=...}``, with their ``_created`` time, as Counters export them."""

    def __init__(self, values: dict[str, int], node: str, created: float) -> None:
        self.values, self.node, self.created = values, node, created

    def collect(self) -> Iterator[Metric]:
        for name in FIELDS:
            family = CounterMetricFamily(f"farm_node_{name}", HELP[name], labels=["node"])
            family.add_metric([self.node], self.values[name], created=self.created)
            yield family
