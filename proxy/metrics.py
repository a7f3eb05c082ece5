"""The proxy's figures in Prometheus's text format, read from the backends when scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from proxy.backends import BackendPool, BackendState


class BackendCollector(Collector):
    """Reads the counters the forwarder keeps anyway, so that serving a request updates no metric objects."""

    def __init__(self, pool: BackendPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        requests = CounterMetricFamily("farm_proxy_requests", "requests sent to a backend", labels=["backend"])
        errors = CounterMetricFamily("farm_proxy_errors", "failed requests to a backend", labels=["backend"])
        shed = CounterMetricFamily("farm_proxy_shed", "answers 503 with Retry-After from a backend", labels=["backend"])
        in_flight = GaugeMetricFamily("farm_proxy_in_flight", "requests a backend is serving now", labels=["backend"])
        up = GaugeMetricFamily("farm_proxy_backend_up", "1 when the backend gets requests", labels=["backend"])
        for backend in self.pool:
            requests.add_metric([backend.name], backend.requests)
            errors.add_metric([backend.name], backend.errors)
            shed.add_metric([backend.name], backend.shed)
            in_flight.add_metric([backend.name], backend.in_flight)
            up.add_metric([backend.name], 1 if backend.state is BackendState.UP else 0)
        yield from (requests, errors, shed, in_flight, up)


def prometheus_text(pool: BackendPool) -> bytes:
    registry = CollectorRegistry()
    registry.register(BackendCollector(pool))
    return generate_latest(registry)
