"""What every scenario step is: parsed once from its validated YAML, with its own label, schema and action."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar, ParamSpec, Protocol, Self, TypeVar

from farm.config import CacheChoice
from farm.engines import FarmEngine
from farm.scenario.history import Event, RecordSink
from farm.state import FarmState
from farm.topology import NodeRestarted

P = ParamSpec("P")
T = TypeVar("T")
JsonSchema = dict[str, Any]

NODE_NAME: JsonSchema = {"type": "string", "pattern": "^node-[0-9]+$"}
POSITIVE: JsonSchema = {"type": "number", "exclusiveMinimum": 0}


class StepContext(Protocol):
    """What a step may use of the run it is part of (the runner provides it)."""

    cache: CacheChoice
    farm: FarmEngine
    epoch: float
    """``time.monotonic()`` when the scenario started: records and events count seconds from it."""

    @property
    def records(self) -> RecordSink:
        """Where loads put each record as its request finishes."""

    @property
    def state(self) -> FarmState:
        """The farm as the last farm action left it."""

    def farm_changed(self, state: FarmState) -> None: ...

    def now(self) -> float: ...

    def seed_for(self, index: int, own: int | None) -> int: ...

    def add_event(self, event: Event) -> None: ...

    def events_from_thread(self, kind: str) -> NodeRestarted:
        """A callback a blocking farm action calls (in its thread) as each node is done."""

    async def blocking(self, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Runs a blocking farm action in a thread, so that background loads go on meanwhile."""

    def in_background(self, work: Coroutine[Any, Any, None], *, stop: Callable[[], None] | None = None) -> None:
        """``work`` goes on while the next steps run; the next ``expect`` waits for it, calling ``stop`` first."""

    async def expect(self, thresholds: dict[str, Any], line: int) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Step(ABC):
    kind: ClassVar[str]
    schema: ClassVar[JsonSchema]
    """The JSON Schema of the step's body (what follows ``kind:`` in the file)."""
    fields_doc: ClassVar[str]
    doc: ClassVar[str]
    """The step's row in docs/scenarios.md: its fields, and what it does."""
    messages: ClassVar[dict[str, str]] = {}
    """Plain words for schema rules (by validator) whose generic jsonschema wording would not tell a user what to
    write."""
    colour: ClassVar[str] = "tab:gray"
    """How report.html marks the events this step records."""
    restarts_node: ClassVar[bool] = False
    """Its events put a node back cold if the cache is not shared: ``hit_ratio_after_restart`` judges them."""
    adds_node: ClassVar[bool] = False
    """Its events bring a new node: ``hit_ratio_after_add`` judges them."""
    needs_fault_links: ClassVar[bool] = False
    """It acts on the fault proxy's links: a scenario that has it runs on a farm started with fault links."""
    ends_fault: ClassVar[bool] = False
    """Its events end a fault (a heal, by a step or by the fault's own ``duration_s``; the cache back):
    ``recovery_s`` counts from them. A step whose instances differ (``cache: start`` ends one, ``cache: stop`` does
    not) overrides ``ends_fault_event`` instead: the runner marks the events it records while it runs."""

    line: int
    """Where the step is in the scenario file."""

    @classmethod
    @abstractmethod
    def parse(cls, body: Any, line: int) -> Self:
        """The step from its body, which the schema has already accepted."""

    @classmethod
    def check(cls, body: Any) -> list[tuple[str, str]]:
        """Rules between fields that the schema cannot say, on a body the schema accepted: (field, message) pairs."""
        return []

    @abstractmethod
    def describe(self) -> str:
        """A short label: what the step does, as the live view, the records and the reports name it."""

    def ends_fault_event(self) -> bool:
        """Whether this step's events end a fault (the runner marks them so)."""
        return self.ends_fault

    def numbered(self, index: int) -> str:
        return f"{index}. {self.describe()}"

    @abstractmethod
    async def run(self, ctx: StepContext, index: int) -> None: ...


async def timed(
    ctx: StepContext, kind: str, node: str | None, label: str, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """A blocking farm action that becomes one event on the report's time axis."""
    began = ctx.now()
    result = await ctx.blocking(action, *args, **kwargs)
    ctx.add_event(Event(began, ctx.now(), kind, node, label))
    return result
