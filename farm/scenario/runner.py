"""Running a scenario on one farm: bring it up, run each step in order, judge the expectations.

Farm actions (restarts, adds, kills) are the blocking ``Farm`` calls, run in a thread so that background
loads keep going while they act. The caller tears the farm down, whatever happens here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import aiohttp

from farm.config import CacheChoice
from farm.engines import FarmEngine
from farm.errors import FarmError
from farm.scenario.expectations import Verdict
from farm.scenario.figures import NodeStart, parse_utc
from farm.scenario.history import Event, HistoryStream
from farm.scenario.phases import Phases
from farm.scenario.result import CacheResult, NodeSample, SourceSample
from farm.scenario.spec import Scenario
from farm.scenario.steps import Step
from farm.state import FarmState
from farm.topology import NodeRestarted

SOURCE_POLL_S = 0.5
NODE_LOOK_TIMEOUT = aiohttp.ClientTimeout(total=0.5)
P = ParamSpec("P")
T = TypeVar("T")


class RunView(Protocol):
    """What the runner tells whoever is watching (the live terminal view, or nobody)."""

    def started(self, result: CacheResult, epoch: float) -> None: ...

    def step(self, cache: str, index: int, label: str) -> None: ...

    def verdicts(self, cache: str, verdicts: list[Verdict]) -> None: ...


class QuietView:
    def started(self, result: CacheResult, epoch: float) -> None:
        pass

    def step(self, cache: str, index: int, label: str) -> None:
        pass

    def verdicts(self, cache: str, verdicts: list[Verdict]) -> None:
        pass


class ScenarioRunner:
    """Runs the steps; to them it is the ``StepContext``: the farm, its state, the clock and the records."""

    def __init__(
        self,
        scenario: Scenario,
        cache: CacheChoice,
        farm: FarmEngine,
        *,
        seed: int | None = None,
        view: RunView | None = None,
        history: Path | None = None,
    ) -> None:
        """``history``: the history.jsonl the records are appended to as the run goes."""
        self.scenario = scenario
        self.cache = cache
        self.farm = farm
        self.seed = seed
        self.view = view or QuietView()
        self.result = CacheResult(cache.name, expected_to_fail=cache.name in scenario.expected_to_fail)
        self.records = Phases(self.result, HistoryStream(history, cache.kind) if history is not None else None)
        self.epoch = 0.0
        self._state: FarmState | None = None
        self._background: list[asyncio.Task[None]] = []
        self._stops: list[Callable[[], None]] = []
        """How to end the background work that has no end of its own (loads ``until: expect``)."""
        self._acting: Step | None = None

    # -- the StepContext -----------------------------------------------------------------------------
    @property
    def state(self) -> FarmState:
        if self._state is None:
            raise FarmError("the farm is not up yet")
        return self._state

    def farm_changed(self, state: FarmState) -> None:
        self._state = state

    def now(self) -> float:
        return time.monotonic() - self.epoch

    def seed_for(self, index: int, own: int | None) -> int:
        """``--seed N`` seeds every load from N and its position; otherwise a load's own seed or its position."""
        if self.seed is not None:
            return self.seed + index
        return own if own is not None else index

    def add_event(self, event: Event) -> None:
        acting = self._acting
        if acting is not None and event.kind == acting.kind and acting.ends_fault_event():
            event = replace(event, ends_fault=True)
        self.result.events.append(event)

    def events_from_thread(self, kind: str) -> NodeRestarted:
        loop = asyncio.get_running_loop()

        def done(node: str, began: float, ended: float) -> None:
            event = Event(began - self.epoch, ended - self.epoch, kind, node, f"{kind} {node}")
            loop.call_soon_threadsafe(self.add_event, event)

        return done

    async def blocking(self, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(action, *args, **kwargs)

    def in_background(self, work: Coroutine[Any, Any, None], *, stop: Callable[[], None] | None = None) -> None:
        self._background.append(asyncio.create_task(work))
        if stop is not None:
            self._stops.append(stop)

    async def expect(self, thresholds: dict[str, Any], line: int) -> None:
        """Judges everything since the previous ``expect`` (or the start), once background loads are done."""
        await self._finish_background()
        await self._sample_source(by_node=True)
        await self._sample_nodes()
        await asyncio.to_thread(self.records.flush)
        # Judging a long phase takes a while: in a thread, so that the source sampler's loop is never held up.
        verdicts = await asyncio.to_thread(self.records.expect, thresholds, line, self.now())
        self.view.verdicts(self.cache.name, verdicts)

    # -- the run -------------------------------------------------------------------------------------
    async def run(self) -> CacheResult:
        spec = self.scenario.farm
        self._state = await asyncio.to_thread(
            self.farm.up,
            nodes=spec.nodes,
            cache=self.cache,
            proxy_port=None,
            item_sliding=spec.item_sliding_s or 0,
            item_absolute=spec.item_absolute_s,
            source_latency_ms=spec.source_latency_ms,
            cache_persistence=spec.cache_persistence,
            fault_links=self.scenario.needs_fault_links,
            admission=spec.admission,
        )
        self.epoch, self.result.epoch_wall = time.monotonic(), time.time()
        self.view.started(self.result, self.epoch)
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self.http = http
            await self._sample_source(by_node=True)
            await self._sample_nodes()
            self.records.begin()
            sampler = asyncio.create_task(self._sample_source_forever())
            try:
                await self._note_starts()
                for index, step in enumerate(self.scenario.steps, 1):
                    self.view.step(self.cache.name, index, step.numbered(index))
                    self._acting = step
                    try:
                        await step.run(self, index)
                    finally:
                        self._acting = None
                    # A restarted container may publish its port anew: later steps reach each node where it is now.
                    self._state = await asyncio.to_thread(self.farm.state_now)
                    await self._note_starts()
                await self._finish_background()
            except FarmError as exc:
                self.result.failure = str(exc)
                await self._finish_background(cancel=True)
            finally:
                sampler.cancel()
                await asyncio.to_thread(self.records.flush)
            await self._sample_source(by_node=True)
            await self._sample_nodes()
        self.result.seconds = self.now()
        self.result.figures = await asyncio.to_thread(self.records.whole_run)
        return self.result

    async def _finish_background(self, *, cancel: bool = False) -> None:
        tasks, self._background = self._background, []
        stops, self._stops = self._stops, []
        for stop in stops:
            stop()
        for task in tasks if cancel else ():
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=cancel)

    # -- what the farm says about itself -----------------------------------------------------------
    async def _sample_source(self, *, by_node: bool = False) -> None:
        """The source store's own counters: the scenario's measure of source load. ``by_node``: also its reads by
        node and item, where a phase begins or ends."""
        stats = await self._source_json("/stats")
        detail = await self._source_json("/stats/reads-by-node") if by_node else None
        self.result.source_samples.append(SourceSample(self.now(), stats["reads"], stats["writes"], detail))

    async def _source_json(self, path: str) -> Any:
        url = self.state.source_url + path
        try:
            async with self.http.get(url) as reply:
                reply.raise_for_status()
                return await reply.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FarmError(f"cannot read the source store's counters at {url}: {exc}") from None

    async def _sample_source_forever(self) -> None:
        while True:
            await asyncio.sleep(SOURCE_POLL_S)
            try:
                await self._sample_source()
            except FarmError:
                continue  # a missed sample only coarsens the source series; the totals come from later ones

    async def _sample_nodes(self) -> None:
        """Each node's own count of cache errors (a node that does not answer now is left out)."""
        state, counts = self.state, {}
        for name in state.nodes:
            try:
                async with self.http.get(state.node_url(name) + "/stats", timeout=NODE_LOOK_TIMEOUT) as reply:
                    stats = await reply.json()
                counts[name] = (str(stats["started_at"]), int(stats["cache_errors"]))
            except (aiohttp.ClientError, TimeoutError, KeyError, ValueError):
                continue
        self.result.node_samples.append(NodeSample(self.now(), counts))

    async def _note_starts(self) -> None:
        """Each node's start time, as it reports it: what ``Last-Server-Start-Time`` should show."""
        state = self.state
        known = {(s.node, s.at) for s in self.result.starts}
        for name in state.nodes:
            try:
                async with self.http.get(state.node_url(name) + "/stats", timeout=NODE_LOOK_TIMEOUT) as reply:
                    started = parse_utc((await reply.json())["started_at"]) - self.result.epoch_wall
            except (aiohttp.ClientError, TimeoutError, KeyError):
                continue  # paused or restarting: the next look will find it
            if (name, started) not in known:
                self.result.starts.append(NodeStart(name, started))
