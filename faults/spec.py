"""What a fault is, and the checks a request to add one passes before anything is touched. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("partition", "latency", "reset")
"""partition: no bytes flow either way until healed, then the held ones are delivered; latency: each chunk waits
``ms`` ± ``jitter_ms``; reset: open connections are cut with a TCP RST (and, for ``duration_s``, new ones too)."""


class BadFault(ValueError):
    """A request the fault proxy cannot act on; the message names the field."""


class UnknownLink(LookupError):
    """A fault or heal names a link the fault proxy does not have."""


@dataclass
class Fault:
    id: str
    kind: str
    links: list[str]
    ms: float = 0.0
    jitter_ms: float = 0.0
    duration_s: float | None = None
    started: float = 0.0
    """Wall-clock seconds (``time.time()``)."""

    @property
    def ends_at(self) -> float | None:
        """When it heals by itself (wall-clock seconds); a reset without a duration ends as it starts."""
        if self.duration_s is not None:
            return self.started + self.duration_s
        return self.started if self.kind == "reset" else None

    @property
    def parameters(self) -> dict[str, float]:
        return {"ms": self.ms, "jitter_ms": self.jitter_ms} if self.kind == "latency" else {}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "links": list(self.links),
            "parameters": self.parameters,
            "duration_s": self.duration_s,
            "started": self.started,
            "ends_at": self.ends_at,
        }


def _number(body: dict[str, Any], name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadFault(f"{name}={value!r}: give a number")
    if value < 0:
        raise BadFault(f"{name}={value!r}: must not be negative")
    return float(value)


def parse_fault(body: Any, known_links: set[str], *, fault_id: str, now: float) -> Fault:
    """The fault a control request asks for: ``{"kind", "links": [...], "ms", "jitter_ms", "duration_s"}``."""
    if not isinstance(body, dict):
        raise BadFault('the body is a JSON object: {"kind": ..., "links": [...]}')
    unknown_fields = sorted(set(body) - {"kind", "links", "ms", "jitter_ms", "duration_s"})
    if unknown_fields:
        raise BadFault(f"unknown field(s) {', '.join(unknown_fields)}: use kind, links, ms, jitter_ms, duration_s")
    kind = body.get("kind")
    if kind not in KINDS:
        raise BadFault(f"kind={kind!r}: use one of {', '.join(KINDS)}")
    links = body.get("links")
    if not isinstance(links, list) or not links or not all(isinstance(name, str) for name in links):
        raise BadFault('links: give a non-empty list of link names, e.g. ["node-1/cache"]')
    missing = [name for name in links if name not in known_links]
    if missing:
        raise UnknownLink(f"no link named {', '.join(missing)} (links: {', '.join(sorted(known_links)) or 'none'})")
    duration_s = _number(body, "duration_s", None)
    if duration_s == 0:
        raise BadFault("duration_s=0: give a positive number of seconds, or leave it out to heal by hand")
    fault = Fault(fault_id, kind, list(dict.fromkeys(links)), duration_s=duration_s, started=now)
    if kind == "latency":
        fault.ms = _number(body, "ms", None) or 0.0
        if "ms" not in body:
            raise BadFault("latency needs ms: the delay of each chunk, in milliseconds")
        fault.jitter_ms = _number(body, "jitter_ms", 0.0) or 0.0
        if fault.jitter_ms > fault.ms:
            raise BadFault(f"jitter_ms={fault.jitter_ms:g} is more than ms={fault.ms:g}: a delay cannot be negative")
    elif "ms" in body or "jitter_ms" in body:
        raise BadFault(f"ms and jitter_ms belong to latency, not to {kind}")
    return fault
