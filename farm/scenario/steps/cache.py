"""The step that stops, starts, pauses, resumes or restarts the farm's own cache server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self, cast

from farm.scenario.history import NOTE, Event
from farm.scenario.steps.base import JsonSchema, Step, StepContext, timed
from farm.topology import CACHE_ACTIONS


@dataclass(frozen=True, kw_only=True)
class CacheStep(Step):
    kind: ClassVar[str] = "cache"
    colour: ClassVar[str] = "tab:pink"
    schema: ClassVar[JsonSchema] = {"enum": list(CACHE_ACTIONS)}
    fields_doc: ClassVar[str] = " or ".join(f"`{action}`" for action in CACHE_ACTIONS)
    doc: ClassVar[str] = (
        "Acts on the farm's own cache server (redis-server, or PostgreSQL for `sql`): `pause` is SIGSTOP to it and "
        "every process it started (it hangs with its connections open), `resume` SIGCONT; `start` also resumes a "
        "paused one; `restart` keeps the data unless `farm.cache_persistence` is false. With other caches the step "
        "is recorded as a note and does nothing."
    )
    action: ClassVar[str] = ""
    """Set by the subclass that ``parse`` picks for the step's action."""

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cast(Self, ACTION_STEPS[body](line=line))

    def describe(self) -> str:
        return f"cache {self.action}"

    async def run(self, ctx: StepContext, index: int) -> None:
        if not ctx.state.has_cache_server:
            now = ctx.now()
            ctx.add_event(Event(now, now, NOTE, None, f"{self.describe()}: not a server of this farm"))
            return
        await timed(ctx, self.kind, None, self.describe(), ctx.farm.cache_service, self.action)


@dataclass(frozen=True, kw_only=True)
class CacheStopStep(CacheStep):
    action: ClassVar[str] = "stop"


@dataclass(frozen=True, kw_only=True)
class CacheStartStep(CacheStep):
    action: ClassVar[str] = "start"
    ends_fault: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class CachePauseStep(CacheStep):
    action: ClassVar[str] = "pause"


@dataclass(frozen=True, kw_only=True)
class CacheResumeStep(CacheStep):
    action: ClassVar[str] = "resume"
    ends_fault: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class CacheRestartStep(CacheStep):
    action: ClassVar[str] = "restart"
    ends_fault: ClassVar[bool] = True


ACTION_STEPS: dict[str, type[CacheStep]] = {
    step.action: step for step in (CacheStopStep, CacheStartStep, CachePauseStep, CacheResumeStep, CacheRestartStep)
}
"""The cache step of each action; every one of ``CACHE_ACTIONS`` has one."""
