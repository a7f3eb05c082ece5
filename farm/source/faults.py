"""Faults of the source store that change while it runs: its latency, and writes whose reply is lost.

A lost reply is the case a client cannot tell from a failed write: the item is updated, then the connection
closes without an answer. Which writes lose their reply is drawn from a seeded random, so a run repeats.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from aiohttp import web

from farm.source.bodies import json_body
from farm.source.stats import SourceStats

MAX_DELAY_MS = 60_000
"""A minute: longer than any client waits, and a longer delay would only stall the requests that follow."""
LIMITS: dict[str, tuple[float, float]] = {
    "latency_ms": (0, MAX_DELAY_MS),
    "jitter_ms": (0, MAX_DELAY_MS),
    "fail_writes_after_apply": (0, 1),
}
"""Every field ``PUT /control`` takes, with its smallest and largest value."""


@dataclass(frozen=True)
class SourceFaults:
    latency_ms: float = 20.0
    """Added to every request."""
    jitter_ms: float = 0.0
    """Up to this much more, at random."""
    fail_writes_after_apply: float = 0.0
    """The share (0 to 1) of writes that are applied and then lose their reply."""

    def to_json(self) -> dict[str, float]:
        return asdict(self)


class ControlError(ValueError):
    """A ``PUT /control`` body that cannot be applied; ``field`` names the part that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def changed(faults: SourceFaults, body: Any) -> SourceFaults:
    """``faults`` with the fields the body gives; nothing changes unless every field is valid."""
    if not isinstance(body, dict) or not body:
        raise ControlError("(body)", f"give a JSON object with one or more of {', '.join(LIMITS)}")
    for name, value in body.items():
        if name not in LIMITS:
            raise ControlError(name, f"unknown field: use {', '.join(LIMITS)}")
        low, high = LIMITS[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value in (math.inf, -math.inf)
            or value != value
        ):
            raise ControlError(name, f"must be a number, not {value!r:.80}")
        if not low <= value <= high:  # exact for integers of any size
            raise ControlError(name, f"must be between {low:g} and {high:g}, not {value!r:.80}")
    return replace(faults, **{name: float(value) for name, value in body.items()})


@dataclass
class LiveFaults:
    """The faults in force: one object the handlers share, replaced as a whole by ``PUT /control``."""

    current: SourceFaults


FAULTS = web.AppKey("faults", LiveFaults)
JITTER = web.AppKey("jitter", random.Random)
LOST_REPLIES = web.AppKey("lost_replies", random.Random)


def install_faults(app: web.Application, faults: SourceFaults, seed: int | None) -> None:
    """The faults as the source store starts, and ``GET/PUT /control`` to change them."""
    app[FAULTS] = LiveFaults(faults)
    app[JITTER] = random.Random(seed)
    # A stream of its own: how many jittered requests came first does not change which writes lose their reply.
    app[LOST_REPLIES] = random.Random(None if seed is None else f"{seed}/lost-replies")
    app.router.add_get("/control", get_control)
    app.router.add_put("/control", put_control)


def delay_s(app: web.Application) -> float:
    """Seconds to wait before serving a request, as the faults now say."""
    faults = app[FAULTS].current
    return (faults.latency_ms + (app[JITTER].uniform(0, faults.jitter_ms) if faults.jitter_ms else 0.0)) / 1000


def lose_reply(request: web.Request, stats: SourceStats) -> bool:
    """After a write was applied: whether its reply is lost. If so the connection is already closed."""
    share = request.app[FAULTS].current.fail_writes_after_apply
    if share <= 0 or request.app[LOST_REPLIES].random() >= share:
        return False
    stats.lost_write_replies += 1
    if request.transport is not None:
        request.transport.abort()
    return True


async def get_control(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS].current.to_json())


async def put_control(request: web.Request) -> web.Response:
    body = await json_body(request)
    live = request.app[FAULTS]
    try:
        live.current = changed(live.current, body)
    except ControlError as exc:
        # What the body named is said back: text it cannot be encoded as (a lone surrogate) is escaped, not a 500.
        said = f"{exc}\n".encode("utf-8", "backslashreplace").decode("utf-8")
        raise web.HTTPBadRequest(text=said) from None
    return web.json_response(live.current.to_json())
