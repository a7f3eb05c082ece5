"""Backends and the round-robin choice among them: policy without I/O, driven directly by tests."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict

from yarl import URL


class BackendState(StrEnum):
    UP = "up"
    DOWN = "down"  # failed a health check or a connection: no requests until a check passes again
    DRAINING = "draining"  # being removed: no new requests, in-flight ones finish


class BackendJson(TypedDict):
    """A backend as the admin API shows it."""

    name: str
    url: str
    state: str
    requests: int
    errors: int
    shed: int
    in_flight: int
    last_error: str | None


@dataclass(eq=False)
class Backend:
    name: str
    url: str
    state: BackendState = BackendState.UP
    requests: int = 0
    errors: int = 0
    shed: int = 0
    """Answers 503 with Retry-After: the backend refused the request, overloaded (a GET is then tried elsewhere)."""
    in_flight: int = 0
    last_error: str | None = field(default=None, repr=False)
    idle: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set when the last in-flight request finishes: what a drain waits for."""

    def started(self) -> None:
        self.requests += 1
        self.in_flight += 1
        self.idle.clear()

    def finished(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self.idle.set()

    def to_json(self) -> BackendJson:
        return {
            "name": self.name,
            "url": masked_url(self.url),
            "state": str(self.state),
            "requests": self.requests,
            "errors": self.errors,
            "shed": self.shed,
            "in_flight": self.in_flight,
            "last_error": self.last_error,
        }


def masked_url(url: str) -> str:
    """``url`` with its password as ``***``, for logs and the admin API."""
    try:
        parsed = URL(url)
    except ValueError:  # not a URL yarl takes (a port out of range): hide whatever precedes an '@'
        return re.sub(r"//[^/]*@", "//***@", url)
    return str(parsed.with_password("***")) if parsed.password else url


class DuplicateBackend(ValueError):
    pass


class UnknownBackend(LookupError):
    pass


class BackendPool:
    """The backends in the order they were added; ``pick`` takes the next one that is up, in turn."""

    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}
        self._turn = itertools.count()
        self.held: set[str] = set()
        """Backends the admin removed: DNS discovery leaves them out until they stop resolving or the admin adds
        them back (a rolling restart drains a replica that still resolves while it stops)."""

    def __iter__(self) -> Iterator[Backend]:
        return iter(list(self._backends.values()))

    def __len__(self) -> int:
        return len(self._backends)

    def get(self, name: str) -> Backend:
        try:
            return self._backends[name]
        except KeyError:
            raise UnknownBackend(f"no backend named {name!r}") from None

    def add(self, name: str, url: str) -> Backend:
        if name in self._backends:
            raise DuplicateBackend(f"a backend named {name!r} exists already ({self._backends[name].url})")
        backend = Backend(name, url.rstrip("/"))
        self._backends[name] = backend
        return backend

    def remove(self, name: str) -> Backend:
        backend = self.get(name)
        del self._backends[name]
        return backend

    def pick(self, exclude: Backend | None = None) -> Backend | None:
        """The next backend that is up (other than ``exclude``), or None when there is none."""
        candidates = [b for b in self._backends.values() if b.state is BackendState.UP and b is not exclude]
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]
