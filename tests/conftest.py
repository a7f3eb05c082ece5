"""The project's tests use the fixtures its pytest plugin gives every user (``farm.testing.plugin``): private
servers for the whole run, started on first use and stopped at the end, and running farms.

The guard below fails any test whose event loop ran one callback for more than 100 ms: a blocking call in
async code (a file, a subprocess, a ``.result()``, a ``time.sleep``) fails the test that made it. It times
every callback as asyncio's debug mode does for its slow-callback warning, without debug mode's cost: debug
mode records a stack trace for every callback and coroutine, which halves the speed of the in-process farms
that the load tests run and makes the nodes' 200 ms cache deadlines fire. Time the garbage collector takes
during a callback is not the callback's: late in a long run a full collection can take that long by itself.
Nor is time the thread spent runnable but waiting for a CPU: on a busy machine (the farms' own processes
compete for two cores) the scheduler can hold a thread back mid-callback for tens of milliseconds, which says
nothing about the code; Linux counts that wait per thread (``/proc/thread-self/schedstat``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from collections.abc import Iterator

import pytest

pytest_plugins = ["pytester"]  # the plugin's own tests run pytest on users' test files

SLOW_CALLBACK_S = 0.1


class CollectorTime:
    """Seconds the garbage collector has taken so far in this process."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


class RunQueueWait:
    """Nanoseconds this thread has waited on a run queue, read from the kernel's per-thread scheduler figures.

    Sampled at most every SAMPLE_EVERY_S per thread (a read costs a few microseconds; callbacks are often
    shorter): a wait that fell between the sample and a callback's start is counted as the callback's, which
    only ever makes the guard less strict, by at most the waits of that short window."""

    SAMPLE_EVERY_S = 0.005

    def __init__(self) -> None:
        self._local = threading.local()
        self.works = os.path.exists("/proc/thread-self/schedstat")

    def _read(self) -> int:
        fd = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        return int(os.pread(fd, 64, 0).split()[1])

    def sample(self, now: float) -> None:
        if self.works and now - getattr(self._local, "at", 0.0) > self.SAMPLE_EVERY_S:
            self._local.at, self._local.waited = now, self._read()

    def since_sample(self) -> float:
        """Seconds waited since this thread's last sample."""
        if not self.works:
            return 0.0
        return (self._read() - getattr(self._local, "waited", 0)) / 1e9


class SlowCallbacks:
    """Every callback an event loop runs, timed; the ones over the limit are kept until a test collects them."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self._run = asyncio.events.Handle._run
        self._collector = CollectorTime()
        self._run_queue = RunQueueWait()

    def install(self) -> None:
        original, found, collector, run_queue = self._run, self.found, self._collector, self._run_queue

        def timed(handle: asyncio.Handle) -> None:
            started, collected = time.perf_counter(), collector.total
            run_queue.sample(started)
            original(handle)
            spent = time.perf_counter() - started - (collector.total - collected)
            if spent > SLOW_CALLBACK_S:
                spent -= run_queue.since_sample()
                if spent > SLOW_CALLBACK_S:
                    found.append(f"{_describe(handle)} took {spent:.3f} s")

        gc.callbacks.append(collector)
        # Patched on purpose: every loop in this process, whoever made it, runs its callbacks through here.
        asyncio.events.Handle._run = timed  # type: ignore[method-assign, assignment]

    def uninstall(self) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]
        gc.callbacks.remove(self._collector)

    def collect(self) -> list[str]:
        found, self.found[:] = list(self.found), []
        return found


def _describe(handle: asyncio.Handle) -> str:
    """The task a step belongs to (its coroutine and where it stands), or the callback."""
    owner = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
    return repr(owner) if isinstance(owner, asyncio.Task) else repr(handle)


@pytest.fixture(scope="session")
def slow_callbacks() -> Iterator[SlowCallbacks]:
    guard = SlowCallbacks()
    guard.install()
    yield guard
    guard.uninstall()


@pytest.fixture(autouse=True)
def loop_never_blocked(slow_callbacks: SlowCallbacks) -> Iterator[None]:
    """Fails the test (at teardown, so async fixtures count too) if a callback held its event loop too long."""
    slow_callbacks.collect()
    yield
    found = slow_callbacks.collect()
    if found:
        shown = "\n".join(found[:5])
        pytest.fail(f"the event loop was blocked for more than {SLOW_CALLBACK_S * 1000:.0f} ms:\n{shown}")
