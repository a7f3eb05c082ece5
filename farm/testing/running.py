"""A running farm for a test: brought up in a short temporary folder, driven with blocking helpers, and
always torn down, with its logs kept where the test can look at them."""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict, cast

from farm.config import choose_cache
from farm.fault_links import FaultJson
from farm.node_signals import NodeSignal
from farm.state import FarmState
from farm.testing.options import FarmOptions
from farm.topology import Farm

HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Reply:
    """One answer through the proxy or from a node."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def node(self) -> str | None:
        """Which node answered (``X-Node``)."""
        return self.headers.get("X-Node")

    @property
    def hit(self) -> bool | None:
        """``X-Cache``: True for a hit, False for a miss, None when the answer does not say."""
        cache = self.headers.get("X-Cache")
        return None if cache is None else cache == "HIT"

    @property
    def version(self) -> int | None:
        """The item's version, for a successful item read or write."""
        if self.status != 200:
            return None
        try:
            item = json.loads(self.body)
        except ValueError:
            return None
        return int(item["version"]) if isinstance(item, dict) and "version" in item else None


class SourceCounts(TypedDict):
    """The source store's own counters: what it was asked, by whom."""

    requests: int
    reads: int
    writes: int
    lost_write_replies: int
    """Writes the source store applied and then, on purpose, did not answer (``fail_writes_after_apply``)."""
    by_key: dict[str, int]
    by_node: dict[str, int]


def http(method: str, url: str, body: bytes | None = None) -> Reply:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
            return Reply(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as failed:  # 4xx and 5xx are answers too
        with failed:
            return Reply(failed.code, dict(failed.headers), failed.read())


class RunningFarm:
    """A farm that is up: reads and writes through its proxy, and the actions a scenario takes on it."""

    def __init__(self, farm: Farm, state: FarmState) -> None:
        self.farm = farm
        self.state = state

    @property
    def run_dir(self) -> Path:
        return self.farm.run

    @property
    def proxy_url(self) -> str:
        return self.state.proxy_url

    @property
    def nodes(self) -> list[str]:
        return list(self.state.nodes)

    def node_url(self, name: str) -> str:
        return self.state.node_url(name)

    # -- requests ------------------------------------------------------------------------------------
    def get(self, path: str, *, node: str | None = None) -> Reply:
        """GET through the proxy, or straight from one node."""
        base = self.proxy_url if node is None else self.node_url(node)
        return http("GET", base + path)

    def read(self, item: int, *, node: str | None = None) -> Reply:
        return self.get(f"/items/{item}", node=node)

    def write(self, item: int, changes: dict[str, Any] | None = None, *, node: str | None = None) -> Reply:
        """PUT new values of an item (a new price by default): the source store makes a new version."""
        base = self.proxy_url if node is None else self.node_url(node)
        return http("PUT", f"{base}/items/{item}", json.dumps(changes or {"price": 9.99}).encode())

    def source_counts(self) -> SourceCounts:
        return cast(SourceCounts, http("GET", self.state.source_url + "/stats").json())

    def reset_source_counts(self) -> None:
        http("POST", self.state.source_url + "/stats/reset")

    # -- actions -------------------------------------------------------------------------------------
    def restart_node(self, name: str) -> None:
        """Drained at the proxy, restarted, healthy, back in."""
        self.farm.restart_nodes([name], rolling=True)

    def restart_all(self, *, rolling: bool = False) -> None:
        """Every node: one at a time with ``rolling``, otherwise all at once."""
        self.farm.restart_nodes(self.nodes, rolling=rolling)

    def add_node(self) -> str:
        name, self.state = self.farm.add_node()
        return name

    def remove_node(self, name: str) -> None:
        self.state = self.farm.remove_node(name)

    def kill_node(self, name: str) -> None:
        self.farm.signal_node(name, NodeSignal.KILL)

    def pause_node(self, name: str) -> None:
        self.farm.signal_node(name, NodeSignal.PAUSE)

    def resume_node(self, name: str) -> None:
        self.farm.signal_node(name, NodeSignal.RESUME)

    def stop_cache(self) -> None:
        self.farm.cache_service("stop")

    def start_cache(self) -> None:
        self.farm.cache_service("start")

    def pause_cache(self) -> None:
        """SIGSTOP to the cache server and its processes: it hangs with its connections open."""
        self.farm.cache_service("pause")

    def resume_cache(self) -> None:
        self.farm.cache_service("resume")

    def restart_cache(self) -> None:
        self.farm.cache_service("restart")

    # -- network faults (a farm with ``faults=True``) -------------------------------------------------
    def partition(self, target: str, nodes: list[str] | None = None, *, duration_s: float | None = None) -> FaultJson:
        """Cuts these nodes (default: all) off from ``target`` (cache or source); held bytes land on heal."""
        return self.farm.fault("partition", target, nodes, duration_s=duration_s)

    def latency(
        self,
        target: str,
        ms: float,
        *,
        jitter_ms: float = 0.0,
        nodes: list[str] | None = None,
        duration_s: float | None = None,
    ) -> FaultJson:
        return self.farm.fault("latency", target, nodes, ms=ms, jitter_ms=jitter_ms, duration_s=duration_s)

    def reset(self, target: str, nodes: list[str] | None = None, *, duration_s: float | None = None) -> FaultJson:
        return self.farm.fault("reset", target, nodes, duration_s=duration_s)

    def heal(self, nodes: list[str] | None = None, target: str | None = None) -> list[FaultJson]:
        """Ends the faults on these nodes' links; with neither argument, every network fault."""
        return self.farm.heal(nodes, target)

    def faults(self) -> list[FaultJson]:
        return self.farm.faults()

    def status(self) -> dict[str, Any]:
        return self.farm.status()


@contextmanager
def running_farm(options: FarmOptions | None = None, *, logs: Path | None = None) -> Iterator[RunningFarm]:
    """A farm for the ``with`` block, built as ``options`` say, and always torn down; its process logs are
    copied to ``logs`` at the end, whatever happened.

    A test's farm is its own: unlike ``farm up``, this reads no ``FARM_*`` variable and no ``secrets.env``,
    so that a developer's own settings never point a test at a shared server. Give a URL as ``cache`` for that.
    """
    options = options or FarmOptions()
    run_dir = Path(tempfile.mkdtemp(prefix="cachefarm-test-"))  # short: supervisord's socket path has a limit
    farm = Farm(run_dir)
    try:
        choice = replace(choose_cache(options.cache, options.environment, {}), write_policy=options.write_policy)
        state = farm.up(
            nodes=options.nodes,
            cache=choice,
            proxy_port=None,
            item_sliding=options.item_sliding_s,
            item_absolute=options.item_absolute_s,
            source_latency_ms=options.source_latency_ms,
            cache_persistence=options.cache_persistence,
            fault_links=options.faults,
        )
        yield RunningFarm(farm, state)
    finally:
        farm.down()
        if logs is not None and (run_dir / "logs").is_dir():
            shutil.copytree(run_dir / "logs", logs, dirs_exist_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)
