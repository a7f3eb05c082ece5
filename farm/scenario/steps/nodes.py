"""Steps that change the farm's nodes: restart, add, remove, and the signals that break one (kill, pause, resume)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from farm.node_signals import NodeSignal
from farm.scenario.history import Event
from farm.scenario.steps.base import NODE_NAME, JsonSchema, Step, StepContext, timed


@dataclass(frozen=True, kw_only=True)
class RestartStep(Step):
    kind: ClassVar[str] = "restart"
    colour: ClassVar[str] = "tab:orange"
    restarts_node: ClassVar[bool] = True
    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "properties": {"node": NODE_NAME, "all": {"const": True}, "rolling": {"type": "boolean"}},
        "additionalProperties": False,
        "oneOf": [{"required": ["node"], "not": {"required": ["all"]}}, {"required": ["all"]}],
    }
    messages: ClassVar[dict[str, str]] = {
        "oneOf": "give node: NAME, or all: true (with rolling: true for one at a time)",
    }
    fields_doc: ClassVar[str] = "`node: node-2`, or `all: true` with optional `rolling: true`"
    doc: ClassVar[str] = (
        "One node, or every node one by one (each drained at the proxy, restarted, back in: a deployment), or all "
        "at once."
    )

    node: str | None = None
    """One node; None: every node."""
    rolling: bool = False

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, node=body.get("node"), rolling=body.get("rolling", False))

    def describe(self) -> str:
        return f"restart {self.node or ('all, rolling' if self.rolling else 'all at once')}"

    async def run(self, ctx: StepContext, index: int) -> None:
        names = [self.node] if self.node is not None else list(ctx.state.nodes)
        await ctx.blocking(
            ctx.farm.restart_nodes,
            names,
            rolling=self.rolling or self.node is not None,
            on_restarted=ctx.events_from_thread(self.kind),
        )


@dataclass(frozen=True, kw_only=True)
class AddStep(Step):
    kind: ClassVar[str] = "add"
    colour: ClassVar[str] = "tab:green"
    adds_node: ClassVar[bool] = True
    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "properties": {"count": {"type": "integer", "minimum": 1}},
        "additionalProperties": False,
    }
    fields_doc: ClassVar[str] = "`count` (default 1)"
    doc: ClassVar[str] = "New nodes, started and put behind the proxy."

    count: int = 1

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, count=body.get("count", 1))

    def describe(self) -> str:
        return f"add {self.count} node(s)"

    async def run(self, ctx: StepContext, index: int) -> None:
        for _ in range(self.count):
            began = ctx.now()
            name, state = await ctx.blocking(ctx.farm.add_node)
            ctx.farm_changed(state)
            ctx.add_event(Event(began, ctx.now(), self.kind, name, f"{self.kind} {name}"))


@dataclass(frozen=True, kw_only=True)
class OneNodeStep(Step):
    """A step that acts on the one node it names."""

    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "properties": {"node": NODE_NAME},
        "required": ["node"],
        "additionalProperties": False,
    }
    fields_doc: ClassVar[str] = "`node`"

    node: str

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, node=body["node"])

    def describe(self) -> str:
        return f"{self.kind} {self.node}"


@dataclass(frozen=True, kw_only=True)
class RemoveStep(OneNodeStep):
    kind: ClassVar[str] = "remove"
    colour: ClassVar[str] = "tab:purple"
    doc: ClassVar[str] = "Drained at the proxy, then stopped."

    async def run(self, ctx: StepContext, index: int) -> None:
        ctx.farm_changed(await timed(ctx, self.kind, self.node, self.describe(), ctx.farm.remove_node, self.node))


@dataclass(frozen=True, kw_only=True)
class SignalStep(OneNodeStep):
    """A signal to one node; a subclass per signal names the step."""

    signal: ClassVar[NodeSignal]

    async def run(self, ctx: StepContext, index: int) -> None:
        await timed(ctx, self.kind, self.node, self.describe(), ctx.farm.signal_node, self.node, self.signal)


@dataclass(frozen=True, kw_only=True)
class KillStep(SignalStep):
    kind: ClassVar[str] = NodeSignal.KILL.value
    signal: ClassVar[NodeSignal] = NodeSignal.KILL
    doc: ClassVar[str] = NodeSignal.KILL.effect
    colour: ClassVar[str] = "tab:red"
    restarts_node: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class PauseStep(SignalStep):
    kind: ClassVar[str] = NodeSignal.PAUSE.value
    signal: ClassVar[NodeSignal] = NodeSignal.PAUSE
    doc: ClassVar[str] = NodeSignal.PAUSE.effect
    colour: ClassVar[str] = "tab:brown"


@dataclass(frozen=True, kw_only=True)
class ResumeStep(SignalStep):
    kind: ClassVar[str] = NodeSignal.RESUME.value
    signal: ClassVar[NodeSignal] = NodeSignal.RESUME
    doc: ClassVar[str] = NodeSignal.RESUME.effect
    colour: ClassVar[str] = "tab:olive"
