"""Running a scenario on one farm: bring it up, run each step in order, judge the expectations.

Farm actions (restarts, adds, kills) are the blocking ``Farm`` calls, run in a thread so that background
loads keep going while they act. The caller tears the farm down, whatever happens here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from farm.config import CacheChoice
from farm.errors import FarmError
from farm.scenario.expectations import Verdict, judge
from farm.scenario.figures import Figures, NodeStart, SourceCount, measure, parse_utc
from farm.scenario.history import Event, Record
from farm.scenario.load import LoadRun, LoadSpec, write_keys
from farm.scenario.spec import Scenario, Step
from farm.state import FarmState
from farm.topology import Farm

SOURCE_POLL_S = 0.5
NODE_LOOK_TIMEOUT = aiohttp.ClientTimeout(total=0.5)


@dataclass(frozen=True)
class SourceSample:
    at: float
    reads: int
    writes: int


@dataclass
class CacheResult:
    """Everything one run of a scenario with one cache produced."""

    cache: str
    records: list[Record] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    source_samples: list[SourceSample] = field(default_factory=list)
    starts: list[NodeStart] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    figures: Figures | None = None
    epoch_wall: float = 0.0
    seconds: float = 0.0
    failure: str | None = None
    """Why the run stopped early (the farm failed); None when every step ran."""
    expected_to_fail: bool = False
    """The scenario expects this cache to fall short: failed expectations are shown, not counted."""

    @property
    def passed(self) -> bool:
        return self.failure is None and all(v.passed for v in self.verdicts)

    @property
    def acceptable(self) -> bool:
        """What the exit code goes by: passed, or failed only in expectations it was expected to fail."""
        return self.passed or (self.expected_to_fail and self.failure is None)


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


def step_label(index: int, step: Step) -> str:
    args = step.args
    if step.kind == "load":
        amount = f"{args['duration_s']:g} s" if "duration_s" in args else f"{args['requests']} requests"
        pace = f"{args['rate']:g}/s" if "rate" in args else f"x{args.get('concurrency', 10)}"
        name = f" {args['name']}" if "name" in args else ""
        return f"{index}. load{name} {amount} {pace}{' (background)' if args.get('background') else ''}"
    if step.kind == "restart":
        target = args.get("node") or ("all, rolling" if args.get("rolling") else "all at once")
        return f"{index}. restart {target}"
    if step.kind in ("remove", "kill", "pause", "resume"):
        return f"{index}. {step.kind} {args['node']}"
    if step.kind == "add":
        return f"{index}. add {args.get('count', 1)} node(s)"
    if step.kind == "write":
        via = f" via {args['via']}" if "via" in args else ""
        return f"{index}. write keys {', '.join(map(str, args['keys']))}{via}"
    if step.kind == "wait":
        return f"{index}. wait {args:g} s"
    if step.kind == "cache":
        return f"{index}. cache {args}"
    return f"{index}. expect {', '.join(args)}"


class ScenarioRunner:
    def __init__(self, scenario: Scenario, cache: CacheChoice, farm: Farm, *, seed: int | None = None,
                 view: RunView | None = None) -> None:  # fmt: skip
        self.scenario = scenario
        self.cache = cache
        self.farm = farm
        self.seed = seed
        self.view = view or QuietView()
        self.result = CacheResult(cache.kind, expected_to_fail=cache.kind in scenario.expected_to_fail)
        self.epoch = 0.0
        self._background: list[asyncio.Task[None]] = []
        self._phase = (0, 0, SourceSample(0, 0, 0))  # records, events and source counters at the last expect

    def now(self) -> float:
        return time.monotonic() - self.epoch

    async def run(self) -> CacheResult:
        spec = self.scenario.farm
        state = await asyncio.to_thread(
            self.farm.up, nodes=spec.nodes, cache=self.cache, proxy_port=None,
            item_sliding=spec.item_sliding_s or 0, item_absolute=spec.item_absolute_s,
            source_latency_ms=spec.source_latency_ms,
        )  # fmt: skip
        self.epoch, self.result.epoch_wall = time.monotonic(), time.time()
        self.view.started(self.result, self.epoch)
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self.http = http
            await self._sample_source(state)
            self._phase = (0, 0, self.result.source_samples[-1])
            sampler = asyncio.create_task(self._sample_source_forever(state))
            try:
                await self._note_starts()
                for index, step in enumerate(self.scenario.steps, 1):
                    label = step_label(index, step)
                    self.view.step(self.cache.kind, index, label)
                    await self._run_step(index, step, label, state)
                    await self._note_starts()
                await self._finish_background()
            except FarmError as exc:
                self.result.failure = str(exc)
                await self._finish_background(cancel=True)
            finally:
                sampler.cancel()
            await self._sample_source(state)
        self.result.seconds = self.now()
        first = self.result.source_samples[0]
        self.result.figures = self._measure(self.result.records, self.result.events, first, self.result.seconds)
        return self.result

    # -- steps -------------------------------------------------------------------------------------
    async def _run_step(self, index: int, step: Step, label: str, state: FarmState) -> None:
        args: Any = step.args
        if step.kind == "load":
            seed = self.seed + index if self.seed is not None else args.get("seed", index)
            load = LoadRun(state.proxy_url, LoadSpec.from_step(args, seed), label, self.result.records, self.epoch)
            if args.get("background"):
                self._background.append(asyncio.create_task(load.run()))
            else:
                await load.run()
        elif step.kind == "write":
            await write_keys(self._write_url(args.get("via")), list(args["keys"]), label, self.result.records,
                             self.epoch)  # fmt: skip
        elif step.kind == "wait":
            await asyncio.sleep(float(args))
        elif step.kind == "expect":
            await self._expect(args, step.line)
        else:
            await self._act(step.kind, args)

    def _write_url(self, via: str | None) -> str:
        """The proxy, or with ``via`` one node directly (writes through one node, reads through all)."""
        state = FarmState.load(self.farm.run)
        if via is None:
            return state.proxy_url
        if via not in state.nodes:
            raise FarmError(f"write via {via}: no such node now (nodes: {', '.join(state.nodes)})")
        return state.node_url(via)

    async def _act(self, kind: str, args: Any) -> None:
        """A step that changes the farm; each one becomes an event on the time axis."""
        nodes = list(FarmState.load(self.farm.run).nodes)
        if kind == "restart" and "node" not in args:
            if args.get("rolling"):
                for name in nodes:
                    await self._event("restart", name, f"restart {name}", self.farm.restart_nodes, [name],
                                      rolling=True)  # fmt: skip
                return
            start = self.now()
            await asyncio.to_thread(self.farm.restart_nodes, nodes, rolling=False)
            self.result.events += [Event(start, self.now(), "restart", n, f"restart {n}") for n in nodes]
            return
        if kind == "restart":
            await self._event("restart", args["node"], f"restart {args['node']}", self.farm.restart_nodes,
                              [args["node"]], rolling=True)  # fmt: skip
        elif kind == "add":
            for _ in range(args.get("count", 1) if isinstance(args, dict) else 1):
                start = self.now()
                name = await asyncio.to_thread(self.farm.add_node)
                self.result.events.append(Event(start, self.now(), "add", name, f"add {name}"))
        elif kind == "remove":
            await self._event("remove", args["node"], f"remove {args['node']}", self.farm.remove_node, args["node"])
        elif kind in ("kill", "pause", "resume"):
            signal = {"kill": "KILL", "pause": "STOP", "resume": "CONT"}[kind]
            await self._event(kind, args["node"], f"{kind} {args['node']}", self.farm.signal_node, args["node"], signal)
        elif kind == "cache":
            if self.cache.kind != "redis" or self.cache.url is not None:
                start = self.now()
                self.result.events.append(Event(start, start, "note", None, f"cache {args}: not a server of this farm"))
                return
            await self._event("cache", None, f"cache {args}", self.farm.cache_service, args)

    async def _event(self, kind: str, node: str | None, label: str, action: Any, *args: Any, **kwargs: Any) -> None:
        start = self.now()
        await asyncio.to_thread(action, *args, **kwargs)
        self.result.events.append(Event(start, self.now(), kind, node, label))

    async def _expect(self, thresholds: dict[str, Any], line: int) -> None:
        """Judges everything since the previous ``expect`` (or the start), once background loads are done."""
        await self._finish_background()
        state = FarmState.load(self.farm.run)
        await self._sample_source(state)
        first_record, first_event, source_before = self._phase
        records = self.result.records[first_record:]
        events = self.result.events[first_event:]
        phase_start = min((r.start for r in records), default=self.now())
        figures = self._measure(records, events, source_before, self.now() - phase_start)
        verdicts = judge(thresholds, figures, line)
        self.result.verdicts += verdicts
        self.view.verdicts(self.cache.kind, verdicts)
        self._phase = (len(self.result.records), len(self.result.events), self.result.source_samples[-1])

    def _measure(self, records: list[Record], events: list[Event], since: SourceSample, seconds: float) -> Figures:
        last = self.result.source_samples[-1]
        source = SourceCount(last.reads - since.reads, last.writes - since.writes)
        return measure(records, source=source, events=events, starts=self.result.starts,
                       epoch_wall=self.result.epoch_wall, seconds=seconds)  # fmt: skip

    async def _finish_background(self, *, cancel: bool = False) -> None:
        tasks, self._background = self._background, []
        for task in tasks if cancel else ():
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=cancel)

    # -- what the farm says about itself -----------------------------------------------------------
    async def _sample_source(self, state: FarmState) -> None:
        """The source store's own counters: the scenario's measure of source load."""
        try:
            async with self.http.get(state.source_url + "/stats") as reply:
                stats = await reply.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FarmError(f"cannot read the source store's counters at {state.source_url}/stats: {exc}") from None
        self.result.source_samples.append(SourceSample(self.now(), stats["reads"], stats["writes"]))

    async def _sample_source_forever(self, state: FarmState) -> None:
        while True:
            await asyncio.sleep(SOURCE_POLL_S)
            try:
                await self._sample_source(state)
            except FarmError:
                continue  # a missed sample only coarsens the source series; the totals come from later ones

    async def _note_starts(self) -> None:
        """Each node's start time, as it reports it: what ``Last-Server-Start-Time`` should show."""
        state = FarmState.load(self.farm.run)
        known = {(s.node, s.at) for s in self.result.starts}
        for name in state.nodes:
            try:
                async with self.http.get(state.node_url(name) + "/stats", timeout=NODE_LOOK_TIMEOUT) as reply:
                    started = parse_utc((await reply.json())["started_at"]) - self.result.epoch_wall
            except (aiohttp.ClientError, TimeoutError, KeyError):
                continue  # paused or restarting: the next look will find it
            if (name, started) not in known:
                self.result.starts.append(NodeStart(name, started))
