"""The step that changes the source store's faults while the scenario runs: latency, lost write replies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from farm.scenario.steps.base import JsonSchema, Step, StepContext, timed
from farm.source.faults import LIMITS


def _bounds(low: float, high: float) -> JsonSchema:
    return {"type": "number", "minimum": low, **({"maximum": high} if math.isfinite(high) else {})}


@dataclass(frozen=True, kw_only=True)
class SourceStep(Step):
    kind: ClassVar[str] = "source"
    colour: ClassVar[str] = "tab:cyan"
    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "properties": {name: _bounds(*limits) for name, limits in LIMITS.items()},
        "additionalProperties": False,
        "minProperties": 1,
    }
    messages: ClassVar[dict[str, str]] = {"minProperties": f"give one or more of {', '.join(LIMITS)}"}
    fields_doc: ClassVar[str] = "`latency_ms`, `jitter_ms`, `fail_writes_after_apply` (0 to 1); any of them"
    doc: ClassVar[str] = (
        "Changes the source store while it runs: its latency, and the share of writes that it applies and then "
        "does not answer (the connection closes without a reply, as when a reply is lost on the way). The fields "
        "not given keep their value."
    )

    changes: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, changes={name: float(value) for name, value in body.items()})

    def describe(self) -> str:
        return "source " + ", ".join(f"{name} {value:g}" for name, value in self.changes.items())

    async def run(self, ctx: StepContext, index: int) -> None:
        await timed(ctx, self.kind, None, self.describe(), ctx.farm.source_faults, self.changes)
