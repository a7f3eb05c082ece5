"""The write-lock primitives (farm.cache.coordination), one suite over every backend on a real server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from farm.cache import EntryOptions, RedisCache
from farm.cache.coordination import Coordination, LateCallError, Observation, coordination_for, deadline_after
from farm.testing.servers import ServerProcess
from tests.cache.conftest import Backend, open_backend, ready_store
from tests.pausing import paused

LEASE = timedelta(seconds=30)
ITEM = EntryOptions(sliding_expiration=timedelta(minutes=5))


def owner() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def coordination(backend: Backend) -> Coordination:
    return coordination_for(backend.cache)


async def test_one_holder_at_a_time_and_release_only_by_the_holder(coordination: Coordination) -> None:
    first, second = owner(), owner()
    lock = await coordination.aacquire("k", first, LEASE, deadline_after(5))
    assert lock is not None
    assert lock.owner == first
    assert lock.fence > 0
    assert await coordination.aacquire("k", second, LEASE, deadline_after(5)) is None
    assert await coordination.arelease("k", second) is False, "only the holder may release"
    assert await coordination.arelease("k", first) is True
    assert await coordination.arelease("k", first) is False, "a second release finds nothing to free"
    again = await coordination.aacquire("k", second, LEASE, deadline_after(5))
    assert again is not None
    assert again.fence > lock.fence


async def test_an_acquisition_sent_again_by_its_owner_gets_the_lock_it_already_holds(
    coordination: Coordination,
) -> None:
    """A driver may send a call again after a connection reset, when the first one was applied: the owner must
    get its lock back rather than find it busy and leave it orphaned for a whole lease."""
    first = owner()
    lock = await coordination.aacquire("k", first, LEASE, deadline_after(5))
    assert lock is not None
    assert await coordination.aacquire("k", first, LEASE, deadline_after(5)) == lock
    assert await coordination.aacquire("k", owner(), LEASE, deadline_after(5)) is None
    assert await coordination.arelease("k", first) is True


def test_only_a_store_that_processes_share_has_shared_fences(backend: Backend, coordination: Coordination) -> None:
    assert coordination.shared is (backend.name != "memory")


async def test_fences_grow_with_every_acquisition_per_key(coordination: Coordination) -> None:
    fences = []
    for _ in range(4):
        lock = await coordination.aacquire("k", owner(), LEASE, deadline_after(5))
        assert lock is not None
        fences.append(lock.fence)
        await coordination.arelease("k", lock.owner)
    assert fences == sorted(set(fences))
    other = await coordination.aacquire("other", owner(), LEASE, deadline_after(5))
    assert other is not None, "locks are per key"


async def test_a_holder_writes_only_while_it_holds_the_lock(backend: Backend, coordination: Coordination) -> None:
    lock = await coordination.aacquire("k", owner(), LEASE, deadline_after(5))
    assert lock is not None
    assert await coordination.aset_if_holder(lock, b"v2", ITEM, deadline_after(5)) is True
    assert await backend.cache.aget("k") == b"v2", "the entry is a plain cache entry, as .NET reads it"
    await coordination.arelease("k", lock.owner)
    assert await coordination.aset_if_holder(lock, b"late", ITEM, deadline_after(5)) is False
    newer = await coordination.aacquire("k", owner(), LEASE, deadline_after(5))
    assert newer is not None
    assert await coordination.aset_if_holder(lock, b"late", ITEM, deadline_after(5)) is False
    assert await backend.cache.aget("k") == b"v2"


async def test_an_expired_lease_frees_the_lock_and_fences_off_its_holder(
    backend: Backend, coordination: Coordination
) -> None:
    old = await coordination.aacquire("k", owner(), timedelta(milliseconds=150), deadline_after(5))
    assert old is not None
    assert await coordination.aacquire("k", owner(), LEASE, deadline_after(5)) is None
    await asyncio.sleep(0.2)  # the lease is counted by the server's clock: real time has to pass
    new = await coordination.aacquire("k", owner(), LEASE, deadline_after(5))
    assert new is not None
    assert new.fence > old.fence
    assert await coordination.aset_if_holder(old, b"old", ITEM, deadline_after(5)) is False
    assert await coordination.aset_if_holder(new, b"new", ITEM, deadline_after(5)) is True
    assert await backend.cache.aget("k") == b"new"


async def test_a_call_past_its_deadline_is_refused_and_changes_nothing(
    backend: Backend, coordination: Coordination
) -> None:
    with pytest.raises(LateCallError):
        await coordination.aacquire("k", owner(), LEASE, time.time() - 0.01)
    lock = await coordination.aacquire("k", owner(), LEASE, deadline_after(5))
    assert lock is not None, "the late acquisition took nothing"
    with pytest.raises(LateCallError):
        await coordination.aset_if_holder(lock, b"late", ITEM, time.time() - 0.01)
    await coordination.arelease("k", lock.owner)
    value, seen = await coordination.aget_observing("k")
    assert value is None
    assert seen is not None
    with pytest.raises(LateCallError):
        await coordination.aadd_if_unchanged("k", b"late", ITEM, seen, time.time() - 0.01)
    assert await backend.cache.aget("k") is None


async def test_a_reader_adds_only_if_no_writer_came_since_its_miss(
    backend: Backend, coordination: Coordination
) -> None:
    value, seen = await coordination.aget_observing("k")
    assert value is None
    assert seen is not None
    assert (seen.fence <= 0, seen.locked) == (True, False), "no writer ever took this key's lock"
    assert await coordination.aadd_if_unchanged("k", b"v1", ITEM, seen, deadline_after(5)) is True
    assert await coordination.aget_observing("k") == (b"v1", None), "a hit needs no observation"

    await backend.cache.aremove("k")
    _, before_write = await coordination.aget_observing("k")
    assert before_write is not None
    lock = await coordination.aacquire("k", owner(), LEASE, deadline_after(5))
    assert lock is not None
    _, during_write = await coordination.aget_observing("k")
    assert during_write == Observation(lock.fence, True)
    assert await coordination.aadd_if_unchanged("k", b"old", ITEM, during_write, deadline_after(5)) is False
    await coordination.arelease("k", lock.owner)
    assert await coordination.aadd_if_unchanged("k", b"old", ITEM, before_write, deadline_after(5)) is False
    assert await backend.cache.aget("k") is None

    _, after_write = await coordination.aget_observing("k")
    assert after_write == Observation(lock.fence, False)
    assert await coordination.aadd_if_unchanged("k", b"v2", ITEM, after_write, deadline_after(5)) is True
    assert await coordination.aadd_if_unchanged("k", b"v3", ITEM, after_write, deadline_after(5)) is False
    assert await backend.cache.aget("k") == b"v2", "an add never overwrites an entry"


async def test_a_lost_reply_is_repaired_by_repeating_the_call(coordination: Coordination) -> None:
    """The call executed but its caller never heard: the holder's owner token still frees its lock, and a
    guarded write may be sent again."""
    holder = owner()
    lost = await coordination.aacquire("k", holder, LEASE, deadline_after(5))
    assert lost is not None
    assert await coordination.arelease("k", holder) is True
    lock = await coordination.aacquire("k", owner(), LEASE, deadline_after(5))
    assert lock is not None
    for _ in range(2):
        assert await coordination.aset_if_holder(lock, b"v", ITEM, deadline_after(5)) is True


# -- a paused server: the call reaches it after its caller gave up -------------------------------------
PAUSABLE = {"redis": "redis_server", "postgresql": "postgresql_server"}


@pytest.fixture(params=sorted(PAUSABLE))
def pausable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ServerProcess]]:
    server: ServerProcess = request.getfixturevalue(PAUSABLE[request.param])
    for store in ready_store(request.param, request, tmp_path):
        request.node.store = store
        yield request.param, server


@pytest.fixture
async def paused_backend(pausable: tuple[str, ServerProcess], request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    async for opened in open_backend(request.node.store):
        yield opened


async def test_a_call_that_reaches_a_paused_server_late_does_not_apply(
    pausable: tuple[str, ServerProcess], paused_backend: Backend
) -> None:
    _, server = pausable
    coordination = coordination_for(paused_backend.cache)
    _, seen = await coordination.aget_observing("k")  # connections are open before the pause
    assert seen is not None
    lock = await coordination.aacquire("warm", owner(), LEASE, deadline_after(5))
    assert lock is not None
    with paused(server):
        late_lock = asyncio.ensure_future(coordination.aacquire("k", owner(), LEASE, deadline_after(0.1)))
        late_add = asyncio.ensure_future(coordination.aadd_if_unchanged("k", b"old", ITEM, seen, deadline_after(0.1)))
        late_set = asyncio.ensure_future(coordination.aset_if_holder(lock, b"old", ITEM, deadline_after(0.1)))
        done, _ = await asyncio.wait({late_lock, late_add, late_set}, timeout=0.3)
        assert not done, "the server is paused: nothing answers"
    for call in (late_lock, late_add, late_set):
        with pytest.raises(LateCallError):
            await call
    assert await coordination.aget_observing("k") == (None, seen), "no lock taken, no entry added"
    assert await paused_backend.cache.aget("warm") is None


async def test_on_redis_a_restart_that_lost_the_data_between_a_miss_and_its_add_refuses_the_add(
    redis_server: ServerProcess,
) -> None:
    """The lock and fence of a write acknowledged just before the restart are gone with it: the server's fence
    epoch, gone too, tells the reader's add that it missed before."""
    instance = f"epoch-{uuid.uuid4().hex[:8]}:"
    cache = RedisCache(redis_server.url, instance_name=instance)
    coordination = coordination_for(cache)
    _, seen = await coordination.aget_observing("k")
    assert seen is not None
    with closing(redis.Redis.from_url(redis_server.url)) as raw:
        raw.delete(*raw.keys(f"{instance}*"))  # what a restart without persistence leaves of this instance
    assert await coordination.aadd_if_unchanged("k", b"old", ITEM, seen, deadline_after(5)) is False
    _, after = await coordination.aget_observing("k")
    assert after is not None
    assert after != seen
    assert await coordination.aadd_if_unchanged("k", b"new", ITEM, after, deadline_after(5)) is True
    await cache.aclose()


FOREIGN_COORDINATION_VALUES = {
    "list": lambda raw, key: raw.rpush(key, "a", "b"),
    "hash": lambda raw, key: raw.hset(key, "name", "someone else's"),
    "text": lambda raw, key: raw.set(key, "not a number"),
}


@pytest.mark.parametrize("which", ["lock", "fence"])
@pytest.mark.parametrize("foreign", list(FOREIGN_COORDINATION_VALUES))
async def test_on_redis_a_lock_or_fence_key_that_holds_something_else_counts_as_none_and_the_next_write_replaces_it(
    redis_server: ServerProcess, which: str, foreign: str
) -> None:
    """Something else wrote at the item's lock or fence key: reads, adds and locked writes of the item go on,
    and the next lock replaces it, so the item heals instead of failing every write."""
    instance = f"foreign-{uuid.uuid4().hex[:8]}:"
    cache = RedisCache(redis_server.url, instance_name=instance)
    coordination = coordination_for(cache)
    prefix = {"lock": "__lock:", "fence": "__fence:"}[which]
    with closing(redis.Redis.from_url(redis_server.url)) as raw:
        FOREIGN_COORDINATION_VALUES[foreign](raw, f"{instance}{prefix}read")
        FOREIGN_COORDINATION_VALUES[foreign](raw, f"{instance}{prefix}written")
        value, seen = await coordination.aget_observing("read")
        assert value is None
        assert seen is not None
        assert not seen.locked, "a lock key that holds no owner is no lock"
        assert await coordination.aadd_if_unchanged("read", b"added", ITEM, seen, deadline_after(5)) is True
        assert await coordination.aget_observing("read") == (b"added", None)

        me = owner()
        lock = await coordination.aacquire("written", me, LEASE, deadline_after(5))
        assert lock is not None
        assert await coordination.aset_if_holder(lock, b"set", ITEM, deadline_after(5)) is True
        assert await coordination.arelease("written", me) is True
        assert raw.type(f"{instance}__lock:written") == b"none"
        assert raw.type(f"{instance}__fence:written") == b"string"
        assert int(raw.get(f"{instance}__fence:written") or b"0") == lock.fence
        again = await coordination.aacquire("written", me, LEASE, deadline_after(5))
        assert again is not None
        assert again.fence > lock.fence
        assert await coordination.aget_observing("written") == (b"set", None)
    await cache.aclose()
