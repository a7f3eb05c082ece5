"""Steps that send requests: a load of many clients, and single writes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

from farm.errors import FarmError
from farm.scenario.keys import DISTRIBUTIONS
from farm.scenario.load import DEFAULT_CONCURRENCY, LoadRun, LoadSpec, write_keys
from farm.scenario.steps.base import NODE_NAME, POSITIVE, JsonSchema, Step, StepContext
from farm.source.catalog import CATALOG_ITEMS

ITEM_COUNT: JsonSchema = {"type": "integer", "minimum": 1, "maximum": CATALOG_ITEMS}
"""Items are 1 to CATALOG_ITEMS in the farm's source store: a key beyond would only ever read 404."""
_STEP_ONLY = ("name", "seed", "background", "via", "until")
"""Body fields that are the step's own; every other one is a ``LoadSpec`` field of the same name."""


@dataclass(frozen=True, kw_only=True)
class LoadStep(Step):
    kind: ClassVar[str] = "load"
    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "duration_s": POSITIVE,
            "requests": {"type": "integer", "minimum": 1},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 1000},
            "rate": POSITIVE,
            "keys": ITEM_COUNT,
            "distribution": {"enum": list(DISTRIBUTIONS)},
            "zipf_s": {"type": "number", "exclusiveMinimum": 1},
            "read_ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "seed": {"type": "integer"},
            "background": {"type": "boolean"},
            "page": {"enum": ["items", "home"]},
            "via": NODE_NAME,
            "until": {"const": "expect"},
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["duration_s"]}, {"required": ["requests"]}, {"required": ["until"]}],
        "not": {"required": ["concurrency", "rate"]},
    }
    messages: ClassVar[dict[str, str]] = {
        "oneOf": "give one of duration_s, requests or until: expect",
        "not": "give concurrency or rate, not both",
    }
    fields_doc: ClassVar[str] = (
        "`duration_s`, `requests` or `until: expect`; "
        f"`concurrency` (default {DEFAULT_CONCURRENCY}) or `rate` (requests/s); `keys` "
        f"(default {LoadSpec.keys}, at most {CATALOG_ITEMS}: the items of the source store); `distribution` "
        f"`uniform` (default) or `zipf` with `zipf_s` (default {LoadSpec.zipf_s}); `read_ratio` (default "
        f"{LoadSpec.read_ratio}: reads only); `seed`; `page` `items` (default) or `home`; `name`; `background`; "
        "`via: node-1`"
    )
    doc: ClassVar[str] = (
        "Clients send requests through the proxy: GET `/items/{key}` and, for `1 - read_ratio` of them, PUT of a "
        "new price. With `concurrency` each client sends its next request when the previous one is answered; with "
        "`rate` requests start on schedule however long earlier ones take. `page: home` reads the sample's home "
        "page instead (its cached time and `Last-Server-Start-Time`). With `background: true` the next steps run "
        "while it goes on; with `until: expect` it runs in the background until the next `expect` step (or the "
        "end), however long the steps between take: a load under a restart that outlasts it would leave nothing "
        "to judge after the restart. With `via` the clients go straight to that node instead of through the proxy."
    )

    spec: LoadSpec
    name: str | None = None
    seed: int | None = None
    background: bool = False
    via: str | None = None
    """A node the clients go to straight (one node under the whole load); None: the proxy."""
    until_expect: bool = False
    """Runs until the next ``expect`` step (or the end of the scenario) instead of for a time or a count."""

    @classmethod
    def check(cls, body: Any) -> list[tuple[str, str]]:
        if body.get("until") == "expect" and body.get("background") is False:
            return [("background", "a load until: expect runs in the background: leave background out")]
        return []

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        spec = LoadSpec(**{k: v for k, v in body.items() if k not in _STEP_ONLY})
        if spec.concurrency is None and spec.rate is None:
            spec = replace(spec, concurrency=DEFAULT_CONCURRENCY)
        until_expect = body.get("until") == "expect"
        return cls(
            line=line,
            spec=spec,
            name=body.get("name"),
            seed=body.get("seed"),
            background=body.get("background", False) or until_expect,
            via=body.get("via"),
            until_expect=until_expect,
        )

    def describe(self) -> str:
        spec = self.spec
        if self.until_expect:
            amount = "until expect"
        else:
            amount = f"{spec.duration_s:g} s" if spec.duration_s is not None else f"{spec.requests} requests"
        pace = f"{spec.rate:g}/s" if spec.rate is not None else f"x{spec.concurrency}"
        name = f" {self.name}" if self.name is not None else ""
        via = f" via {self.via}" if self.via is not None else ""
        return f"load{name} {amount} {pace}{via}{' (background)' if self.background else ''}"

    async def run(self, ctx: StepContext, index: int) -> None:
        spec = replace(self.spec, seed=ctx.seed_for(index, self.seed))
        stop = asyncio.Event() if self.until_expect else None
        load = LoadRun(target_url(ctx, self.via), spec, self.numbered(index), ctx.records, ctx.epoch, stop=stop)
        if self.background:
            ctx.in_background(load.run(), stop=None if stop is None else stop.set)
        else:
            await load.run()


@dataclass(frozen=True, kw_only=True)
class WriteStep(Step):
    kind: ClassVar[str] = "write"
    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "properties": {
            "keys": {"type": "array", "minItems": 1, "items": ITEM_COUNT},
            "via": NODE_NAME,
        },
        "required": ["keys"],
        "additionalProperties": False,
    }
    fields_doc: ClassVar[str] = f"`keys: [1, 2, 3]` (items 1 to {CATALOG_ITEMS}), optional `via: node-1`"
    doc: ClassVar[str] = "PUTs each key once, through the proxy or straight to one node."

    keys: tuple[int, ...]
    via: str | None = None
    """A node to write through (writes through one node, reads through all); None: the proxy."""

    @classmethod
    def parse(cls, body: Any, line: int) -> Self:
        return cls(line=line, keys=tuple(body["keys"]), via=body.get("via"))

    def describe(self) -> str:
        via = f" via {self.via}" if self.via is not None else ""
        return f"write keys {', '.join(map(str, self.keys))}{via}"

    async def run(self, ctx: StepContext, index: int) -> None:
        url = target_url(ctx, self.via)
        await write_keys(url, list(self.keys), self.numbered(index), ctx.records, ctx.epoch)


def target_url(ctx: StepContext, via: str | None) -> str:
    """Where a step's requests go: the proxy, or straight to the node ``via``."""
    state = ctx.state
    if via is None:
        return state.proxy_url
    if via in state.nodes:
        return state.node_url(via)
    raise FarmError(f"via {via}: no such node now (nodes: {', '.join(state.nodes)})")
