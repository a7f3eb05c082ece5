"""The step that stops or starts the farm's own cache server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from farm.scenario.history import NOTE, Event
from farm.scenario.steps.base import JsonSchema, Step, StepContext, timed
from farm.topology import CACHE_ACTIONS


@dataclass(frozen=True, kw_only=True)
class CacheStep(Step):
    kind: ClassVar[str] = "cache"
    colour: ClassVar[str] = "tab:pink"
    schema: ClassVar[JsonSchema] = {"enum": list(CACHE_ACTIONS)}
    fields_doc: ClassVar[str] = "`stop` or `start`"
    doc: ClassVar[str] = (
        "Stops or starts the farm's own redis-server. With other caches the step is recorded as a note and does "
        "nothing."
    )

    action: str

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, action=body)

    def ends_fault_event(self) -> bool:
        return self.action == "start"

    def describe(self) -> str:
        return f"cache {self.action}"

    async def run(self, ctx: StepContext, index: int) -> None:
        if ctx.cache.kind != "redis" or ctx.cache.url is not None:
            now = ctx.now()
            ctx.add_event(Event(now, now, NOTE, None, f"{self.describe()}: not a server of this farm"))
            return
        await timed(ctx, self.kind, None, self.describe(), ctx.farm.cache_service, self.action)
