"""The fault proxy's links and the faults on them: add, heal (by id, by link, or all), and self-healing timers."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from faults.link import Link
from faults.spec import Fault, UnknownLink, parse_fault

log = logging.getLogger("faults")


class DuplicateLink(ValueError):
    """A link of that name exists already."""


class FaultTable:
    def __init__(self, *, rng: random.Random | None = None, clock: Callable[[], float] = time.time) -> None:
        self.links: dict[str, Link] = {}
        self.faults: dict[str, Fault] = {}
        self._rng = rng or random.Random()
        self._clock = clock
        self._ids = itertools.count(1)
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # -- links -------------------------------------------------------------------------------------
    async def add_link(self, name: str, listen_port: int, target_host: str, target_port: int) -> Link:
        if name in self.links:
            raise DuplicateLink(f"link {name!r} exists already (port {self.links[name].listen_port})")
        link = Link(name, listen_port, target_host, target_port, rng=self._rng)
        await link.open()
        self.links[name] = link
        log.info("link %s: 127.0.0.1:%s -> %s:%s", name, link.listen_port, target_host, target_port)
        return link

    async def remove_link(self, name: str) -> Link:
        link = self.links.get(name)
        if link is None:
            raise UnknownLink(f"no link named {name!r} (links: {', '.join(sorted(self.links)) or 'none'})")
        self.heal_links([name])
        del self.links[name]
        await link.close()
        log.info("link %s removed", name)
        return link

    async def close(self) -> None:
        self.heal_all()
        for link in list(self.links.values()):
            await link.close()
        self.links.clear()

    # -- faults ------------------------------------------------------------------------------------
    def add_fault(self, body: Any) -> Fault:
        """Puts the fault a control request asks for on its links; raises ``BadFault`` or ``UnknownLink``."""
        fault = parse_fault(body, set(self.links), fault_id=f"f{next(self._ids)}", now=self._clock())
        for name in fault.links:
            link = self.links[name]
            if fault.kind == "partition":
                link.partition(fault.id)
            elif fault.kind == "latency":
                link.delay(fault.id, fault.ms, fault.jitter_ms)
            else:
                cut = link.cut_all(fault.id if fault.duration_s is not None else None)
                log.info("link %s: %d connection(s) reset", name, cut)
        log.info("fault %s: %s on %s", fault.id, fault.kind, ", ".join(fault.links))
        if fault.kind == "reset" and fault.duration_s is None:
            return fault  # done as it started: nothing stays on the links
        self.faults[fault.id] = fault
        if fault.duration_s is not None:
            self._timers[fault.id] = asyncio.get_running_loop().call_later(fault.duration_s, self._expire, fault.id)
        return fault

    def _expire(self, fault_id: str) -> None:
        self._timers.pop(fault_id, None)
        if fault_id in self.faults:
            log.info("fault %s healed by itself", fault_id)
            self.heal(fault_id)

    def heal(self, fault_id: str) -> Fault:
        fault = self.faults.get(fault_id)
        if fault is None:
            raise UnknownLink(f"no active fault {fault_id!r} (active: {', '.join(self.faults) or 'none'})")
        return self._end(fault, fault.links)

    def heal_links(self, names: Iterable[str]) -> list[Fault]:
        """Ends every fault on these links; a fault that also holds other links stays on those. Returns the
        faults as they were on the links healed."""
        wanted = set(names)
        missing = wanted - set(self.links)
        if missing:
            raise UnknownLink(f"no link named {', '.join(sorted(missing))}")
        healed = []
        for fault in list(self.faults.values()):
            here = [name for name in fault.links if name in wanted]
            if here:
                healed.append(self._end(fault, here))
        return healed

    def heal_all(self) -> list[Fault]:
        return self.heal_links(self.links)

    def _end(self, fault: Fault, names: list[str]) -> Fault:
        for name in names:
            self.links[name].lift(fault.id)
        fault.links = [name for name in fault.links if name not in names]
        if not fault.links:
            self.faults.pop(fault.id, None)
            timer = self._timers.pop(fault.id, None)
            if timer is not None:
                timer.cancel()
        return replace(fault, links=list(names))
