"""Network faults on the links from nodes to their cache or the source store: partition, latency, reset, heal.

A fault step records one event while the fault proxy takes the fault on. A fault with ``duration_s`` heals by
itself in the fault proxy; when it does, the step records a ``heal`` event at that moment, so that the end of
every fault is a ``heal`` event (``ends_fault``), whoever ended it. Waiting for that moment is background work
of the step: an ``expect`` after it waits for the fault to end.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from farm.errors import FarmError
from farm.fault_links import TARGETS, FaultJson
from farm.scenario.history import NOTE, Event
from farm.scenario.steps.base import NODE_NAME, POSITIVE, JsonSchema, Step, StepContext, timed

NODES: JsonSchema = {"type": "array", "items": NODE_NAME, "minItems": 1, "uniqueItems": True}
TARGET: JsonSchema = {"enum": list(TARGETS)}
NOT_NEGATIVE: JsonSchema = {"type": "number", "minimum": 0}
SELF_HEAL_POLL_S = 0.1
SELF_HEAL_DEADLINE_S = 10.0
"""How long past its end a fault may take to leave the fault proxy's list before the run fails."""


def _who(nodes: tuple[str, ...] | None) -> str:
    return ", ".join(nodes) if nodes else "all nodes"


def _has_link(ctx: StepContext, target: str) -> bool:
    return any(link.endswith("/" + target) for link in ctx.state.link_ports)


def _note(ctx: StepContext, label: str) -> None:
    now = ctx.now()
    ctx.add_event(Event(now, now, NOTE, None, label))


@dataclass(frozen=True, kw_only=True)
class FaultStep(Step):
    """A fault on the links of some nodes (default: all) to the cache or the source store."""

    needs_fault_links: ClassVar[bool] = True
    fault_kind: ClassVar[str]
    target_field: ClassVar[str] = "to"

    target: str
    nodes: tuple[str, ...] | None = None
    duration_s: float | None = None

    @classmethod
    def _schema(cls, target_field: str, **extra: JsonSchema) -> JsonSchema:
        properties = {target_field: TARGET, "nodes": NODES, "duration_s": POSITIVE, **extra}
        return {
            "type": "object",
            "properties": properties,
            "required": [target_field, *(name for name in extra if name == "ms")],
            "additionalProperties": False,
        }

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        nodes = tuple(body["nodes"]) if "nodes" in body else None
        return cls(
            line=line, target=body[cls.target_field], nodes=nodes, duration_s=body.get("duration_s"), **cls._own(body)
        )

    @classmethod
    def _own(cls, body: Any) -> dict[str, Any]:
        return {}

    def _parameters(self) -> dict[str, float]:
        return {}

    def _for(self) -> str:
        return f" for {self.duration_s:g} s" if self.duration_s is not None else ""

    async def run(self, ctx: StepContext, index: int) -> None:
        if not _has_link(ctx, self.target):
            _note(ctx, f"{self.describe()}: the {self.target} is not reached over the network")
            return
        node = self.nodes[0] if self.nodes and len(self.nodes) == 1 else None
        nodes = list(self.nodes) if self.nodes else None
        fault: FaultJson = await timed(
            ctx,
            self.kind,
            node,
            self.describe(),
            ctx.farm.fault,
            self.fault_kind,
            self.target,
            nodes,
            duration_s=self.duration_s,
            **self._parameters(),
        )
        if self.duration_s is not None:
            ctx.in_background(self._healed_by_itself(ctx, fault, node))
        elif self.fault_kind == "reset":  # cut once, over at once: its end is now
            now = ctx.now()
            ctx.add_event(Event(now, now, HealStep.kind, node, f"{self.describe()}: over"))

    async def _healed_by_itself(self, ctx: StepContext, fault: FaultJson, node: str | None) -> None:
        """Records a ``heal`` event when the fault proxy ends the fault, unless a heal step ended it first."""
        await asyncio.sleep(max(float(fault["ends_at"]) - time.time() - SELF_HEAL_POLL_S, 0))
        if not any(f["id"] == fault["id"] for f in await ctx.blocking(ctx.farm.faults)):
            return  # healed by a step before its time: that step's event marks the end
        deadline = time.monotonic() + (fault["duration_s"] or 0) + SELF_HEAL_DEADLINE_S
        while any(f["id"] == fault["id"] for f in await ctx.blocking(ctx.farm.faults)):
            if time.monotonic() > deadline:
                raise FarmError(f"{self.describe()}: fault {fault['id']} did not heal by itself")
            await asyncio.sleep(SELF_HEAL_POLL_S)
        now = ctx.now()
        ctx.add_event(Event(now, now, HealStep.kind, node, f"{self.describe()}: healed by itself"))


@dataclass(frozen=True, kw_only=True)
class PartitionStep(FaultStep):
    kind: ClassVar[str] = "partition"
    fault_kind: ClassVar[str] = "partition"
    target_field: ClassVar[str] = "from"
    colour: ClassVar[str] = "tab:red"
    schema: ClassVar[JsonSchema] = FaultStep._schema("from")
    fields_doc: ClassVar[str] = "`from: cache` or `source`, optional `nodes: [node-1]` (default all), `duration_s`"
    doc: ClassVar[str] = (
        "Cuts the nodes off from their cache or the source store: their connections are accepted but carry "
        "nothing; on heal the bytes held are delivered, so work sent meanwhile lands late."
    )

    def describe(self) -> str:
        return f"partition {_who(self.nodes)} from {self.target}{self._for()}"


@dataclass(frozen=True, kw_only=True)
class LatencyStep(FaultStep):
    kind: ClassVar[str] = "latency"
    fault_kind: ClassVar[str] = "latency"
    colour: ClassVar[str] = "tab:cyan"
    schema: ClassVar[JsonSchema] = FaultStep._schema("to", ms=NOT_NEGATIVE, jitter_ms=NOT_NEGATIVE)
    fields_doc: ClassVar[str] = "`to: cache` or `source`, `ms`, optional `jitter_ms`, `nodes`, `duration_s`"
    doc: ClassVar[str] = (
        "Delays every chunk on the nodes' links by `ms` ± uniform `jitter_ms` (at most `ms`), in order."
    )

    ms: float
    jitter_ms: float = 0.0

    @classmethod
    def check(cls, body: Any) -> list[tuple[str, str]]:
        ms, jitter = body["ms"], body.get("jitter_ms", 0)
        if jitter > ms:
            return [("jitter_ms", f"{jitter:g} is more than ms ({ms:g}): a delay cannot be negative")]
        return []

    @classmethod
    def _own(cls, body: Any) -> dict[str, Any]:
        return {"ms": float(body["ms"]), "jitter_ms": float(body.get("jitter_ms", 0))}

    def _parameters(self) -> dict[str, float]:
        return {"ms": self.ms, "jitter_ms": self.jitter_ms}

    def describe(self) -> str:
        jitter = f" ± {self.jitter_ms:g}" if self.jitter_ms else ""
        return f"latency {self.ms:g}{jitter} ms to {self.target} on {_who(self.nodes)}{self._for()}"


@dataclass(frozen=True, kw_only=True)
class ResetStep(FaultStep):
    kind: ClassVar[str] = "reset"
    fault_kind: ClassVar[str] = "reset"
    colour: ClassVar[str] = "tab:orange"
    schema: ClassVar[JsonSchema] = FaultStep._schema("to")
    fields_doc: ClassVar[str] = "`to: cache` or `source`, optional `nodes`, `duration_s`"
    doc: ClassVar[str] = (
        "Cuts the nodes' open connections with a TCP RST; for `duration_s`, new connections are cut too."
    )

    def describe(self) -> str:
        return f"reset {_who(self.nodes)} to {self.target}{self._for()}"


@dataclass(frozen=True, kw_only=True)
class HealStep(Step):
    kind: ClassVar[str] = "heal"
    colour: ClassVar[str] = "tab:green"
    needs_fault_links: ClassVar[bool] = True
    ends_fault: ClassVar[bool] = True
    schema: ClassVar[JsonSchema] = {
        "oneOf": [
            {"const": "all"},
            {
                "type": "object",
                "properties": {"nodes": NODES, "from": TARGET},
                "additionalProperties": False,
                "minProperties": 1,
            },
        ]
    }
    messages: ClassVar[dict[str, str]] = {"oneOf": "give `all`, or `nodes: [...]` and/or `from: cache|source`"}
    fields_doc: ClassVar[str] = "`all`, or `nodes: [node-1]` and/or `from: cache` or `source`"
    doc: ClassVar[str] = (
        "Ends the network faults on those links. `all` ends every fault, as `farm heal` does: network faults, a "
        "paused or stopped cache server, and the source store's added latency and lost replies. A fault with "
        "`duration_s` records a `heal` event of its own when it ends by itself."
    )

    nodes: tuple[str, ...] | None = None
    target: str | None = None

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        if body == "all":
            return cls(line=line)
        nodes = tuple(body["nodes"]) if "nodes" in body else None
        return cls(line=line, nodes=nodes, target=body.get("from"))

    def describe(self) -> str:
        if self.nodes is None and self.target is None:
            return "heal all"
        return f"heal {_who(self.nodes)}" + (f" from {self.target}" if self.target else "")

    async def run(self, ctx: StepContext, index: int) -> None:
        if self.target is not None and not _has_link(ctx, self.target):
            _note(ctx, f"{self.describe()}: the {self.target} is not reached over the network")
            return
        if self.nodes is None and self.target is None:
            await timed(ctx, self.kind, None, self.describe(), ctx.farm.heal_everything)
            return
        node = self.nodes[0] if self.nodes and len(self.nodes) == 1 else None
        nodes = list(self.nodes) if self.nodes else None
        await timed(ctx, self.kind, node, self.describe(), ctx.farm.heal, nodes, self.target)
