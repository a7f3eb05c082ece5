"""Steps that pace the script and judge it: wait, expect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from farm.scenario.catalogue import FIGURE_NAMES
from farm.scenario.steps.base import POSITIVE, JsonSchema, Step, StepContext

THRESHOLD: JsonSchema = {
    "oneOf": [
        {"type": "number"},
        {
            "type": "object",
            "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
            "additionalProperties": False,
            "minProperties": 1,
        },
    ]
}


@dataclass(frozen=True, kw_only=True)
class WaitStep(Step):
    kind: ClassVar[str] = "wait"
    schema: ClassVar[JsonSchema] = POSITIVE
    fields_doc: ClassVar[str] = "seconds"
    doc: ClassVar[str] = "Pauses the script; background loads go on."

    seconds: float

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, seconds=float(body))

    def describe(self) -> str:
        return f"wait {self.seconds:g} s"

    async def run(self, ctx: StepContext, index: int) -> None:
        await asyncio.sleep(self.seconds)


@dataclass(frozen=True, kw_only=True)
class ExpectStep(Step):
    kind: ClassVar[str] = "expect"
    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {name: THRESHOLD for name in FIGURE_NAMES},
    }
    fields_doc: ClassVar[str] = "thresholds, below"
    doc: ClassVar[str] = (
        "Waits for background loads to finish, then judges everything since the previous `expect` (or the start)."
    )

    thresholds: dict[str, Any] = field(default_factory=dict)
    """Figure name to a number (it must equal) or ``{min, max}``."""

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, thresholds=dict(body))

    def describe(self) -> str:
        return f"expect {', '.join(self.thresholds)}"

    async def run(self, ctx: StepContext, index: int) -> None:
        await ctx.expect(self.thresholds, self.line)
