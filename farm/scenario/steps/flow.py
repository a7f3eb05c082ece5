"""Steps that pace the script and judge it: wait, expect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from farm.config import CACHE_VARIANTS
from farm.scenario.catalogue import EXPECTED_TO_FAIL, FIGURE_NAMES
from farm.scenario.steps.base import POSITIVE, JsonSchema, Step, StepContext

THRESHOLD: JsonSchema = {
    "type": ["number", "object"],
    "properties": {
        "min": {"type": "number"},
        "max": {"type": "number"},
        EXPECTED_TO_FAIL: {"type": "array", "items": {"enum": list(CACHE_VARIANTS)}, "uniqueItems": True},
    },
    "additionalProperties": False,
    "if": {"type": "object"},
    "then": {"anyOf": [{"required": ["min"]}, {"required": ["max"]}]},
}
"""A number the figure must equal, or ``{min, max}`` (either or both), with the caches known to fall short of it."""


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
    """Figure name to a number (it must equal) or ``{min, max}``, with the caches known to fall short of it in
    ``expected_to_fail``."""

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, thresholds=dict(body))

    def describe(self) -> str:
        return f"expect {', '.join(self.thresholds)}"

    async def run(self, ctx: StepContext, index: int) -> None:
        await ctx.expect(self.thresholds, self.line)
