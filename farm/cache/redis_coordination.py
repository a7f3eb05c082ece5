"""Write locks and guarded writes on Redis: each primitive is one Lua script, so one round trip and atomic.

Scripts read the server's clock with ``TIME`` (Redis 5+ replicates a script's effects, not the script, so
this is allowed) and refuse a call executed after its deadline. The entry is written as ``RedisCache.set``
writes it (.NET's hash layout); the lock is a plain string key holding its owner, with the lease as its TTL,
and the fence a string key holding the last fencing token (kept without TTL: a few bytes per written key).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from farm.cache.coordination import (
    FENCE_PREFIX,
    LOCK_PREFIX,
    LateCallError,
    Lock,
    Observation,
    lease_milliseconds,
    micros,
)
from farm.cache.keys import validate_key
from farm.cache.options import EntryOptions
from farm.cache.redis_batches import ScriptBatches
from farm.cache.redis_cache import RedisCache
from farm.cache.redis_layout import FOREIGN_FUNCTION, SLIDE_FUNCTION, hash_fields, script_args, ttl_milliseconds

EPOCH_KEY = "__fence_epoch"
_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""
_WRITE = """
local function write(key, absexp, sldexp, data, ttl)
  redis.call('DEL', key)
  redis.call('HSET', key, 'absexp', absexp, 'sldexp', sldexp, 'data', data)
  if ttl ~= '' then redis.call('PEXPIRE', key, ttl) end
end
"""
# Lock, fence and epoch keys are the cache's own, but something else may have written there. Whatever is at
# them that the scripts did not write counts as nothing (a lock is a string with a lease, a fence a number),
# and the next lock replaces it: the item heals instead of failing every read and write that touches it.
_OWN_KEYS = """
local function string_at(key)
  if redis.call('TYPE', key).ok ~= 'string' then return false end
  return redis.call('GET', key)
end
local function lock_owner(key)
  if redis.call('PTTL', key) < 0 then return false end
  return string_at(key)
end
local function fence_at(key)
  local fence = string_at(key)
  if fence and tonumber(fence) then return fence end
  return false
end
"""
# A key without a fence is observed as minus the server's "epoch", a time written once into a key of its
# own: a server that restarts without its data loses the epoch too, so an add whose reader missed before
# the restart is refused (the write that the restart forgot may have been acknowledged).
_SEEN_FENCE = (
    _OWN_KEYS
    + """
local function seen_fence(fence_key, epoch_key, create)
  local fence = fence_at(fence_key)
  if fence then return fence end
  local epoch = string_at(epoch_key)
  if not epoch then
    if not create then return false end
    local t = redis.call('TIME')
    epoch = t[1] .. string.format('%06d', tonumber(t[2]))
    redis.call('SET', epoch_key, epoch)
  end
  return '-' .. epoch
end
"""
)
# KEYS: entry, fence, lock, epoch. ARGV: now in ticks. Returns {data or false, fence, locked 0/1, and on a
# miss what the entry's key holds instead of an entry ('' for nothing: see FOREIGN_FUNCTION)}.
GET_OBSERVING = (
    SLIDE_FUNCTION
    + FOREIGN_FUNCTION
    + _SEEN_FENCE
    + """
local data, kind = slide(KEYS[1], ARGV[1], true)
if data then return {data, '', 0, ''} end
kind = kind or foreign(KEYS[1]) or ''
return {false, seen_fence(KEYS[2], KEYS[4], true), lock_owner(KEYS[3]) and 1 or 0, kind}
"""
)
# KEYS: lock, fence. ARGV: owner, lease ms, deadline us. Returns the fence (the one it holds when the owner
# sends it again), 0 when another holds the lock, -1 when too late.
ACQUIRE = (
    _CLOCK
    + _OWN_KEYS
    + """
if now > tonumber(ARGV[3]) then return -1 end
local holder = lock_owner(KEYS[1])
local held = fence_at(KEYS[2])
if holder == ARGV[1] and held then return tonumber(held) end
if holder and holder ~= ARGV[1] then return 0 end
local fence = tonumber(held or '0') + 1
if fence < now then fence = now end
redis.call('SET', KEYS[2], string.format('%.0f', fence))
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return fence
"""
)
# KEYS: lock. ARGV: owner. Compare-and-delete.
RELEASE = (
    _OWN_KEYS
    + """
if lock_owner(KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)
# KEYS: entry, lock, fence. ARGV: owner, fence, deadline us, absexp, sldexp, data, ttl ms or ''.
SET_IF_HOLDER = (
    _CLOCK
    + _WRITE
    + _OWN_KEYS
    + """
if now > tonumber(ARGV[3]) then return -1 end
if lock_owner(KEYS[2]) ~= ARGV[1] or fence_at(KEYS[3]) ~= ARGV[2] then return 0 end
write(KEYS[1], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1
"""
)
# KEYS: entry, lock, fence, epoch. ARGV: seen fence, deadline us, absexp, sldexp, data, ttl ms or ''.
# A key that holds something else than an entry counts as none: the add replaces it, and the item heals.
ADD_IF_UNCHANGED = (
    _CLOCK
    + _WRITE
    + FOREIGN_FUNCTION
    + _SEEN_FENCE
    + """
if now > tonumber(ARGV[2]) then return -1 end
if lock_owner(KEYS[2]) then return 0 end
if seen_fence(KEYS[3], KEYS[4], false) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 and not foreign(KEYS[1]) then return 0 end
write(KEYS[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1
"""
)


class RedisCoordination:
    """The ``Coordination`` primitives of a RedisCache, on its async client."""

    shared = True

    def __init__(self, cache: RedisCache) -> None:
        self.cache = cache
        self._client = client = cache._aclient
        # Reads are the calls a busy node makes most, many at once: they share round trips.
        self._reads = ScriptBatches(client, client.register_script(GET_OBSERVING), cache._slots)
        self._acquire = client.register_script(ACQUIRE)
        self._release = client.register_script(RELEASE)
        self._set_if_holder = client.register_script(SET_IF_HOLDER)
        self._add_if_unchanged = client.register_script(ADD_IF_UNCHANGED)

    def _keys(self, key: str) -> tuple[str, str, str]:
        key = validate_key(key, None)
        prefix = self.cache.instance_name
        return prefix + key, prefix + LOCK_PREFIX + key, prefix + FENCE_PREFIX + key

    @property
    def _epoch(self) -> str:
        return self.cache.instance_name + EPOCH_KEY

    async def _call(
        self, script: AsyncScript, operation: str, key: str, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        """EVALSHA straight through the client, and the script object only when the server does not know the
        script yet (it loads it): its call does more work than the round trip, which every hit pays for."""
        try:
            async with self.cache._slots:
                try:
                    result = await self._client.evalsha(script.sha, len(keys), *keys, *args)
                except NoScriptError:  # first use on this server, or after a restart without its data or SCRIPT FLUSH
                    result = await script(keys=list(keys), args=list(args))
        except RedisError as exc:
            raise self.cache._cache_error(exc, operation, key) from exc
        if result == -1:
            raise LateCallError(f"redis {operation} of {key!r} reached the server after its deadline: not applied")
        return result

    def _entry_args(self, key: str, value: bytes, options: EntryOptions | None) -> list[Any]:
        _, value, expiry, now = self.cache._prepare_set(key, value, options)
        fields = hash_fields(value, expiry)
        ttl = ttl_milliseconds(expiry, now)
        return [fields["absexp"], fields["sldexp"], value, "" if ttl is None else ttl]

    async def aget_observing(self, key: str) -> tuple[bytes | None, Observation | None]:
        entry, lock, fence = self._keys(key)
        now_ticks = script_args(self.cache._clock(), True)[0]
        try:
            reply = await self._reads.call((entry, fence, lock, self._epoch), (now_ticks,))
        except RedisError as exc:
            raise self.cache._cache_error(exc, "get", key) from exc
        data, seen_fence, locked, foreign = cast(list[Any], reply)
        if data is not None:
            return bytes(data), None
        return None, Observation(int(seen_fence), bool(locked), foreign=bytes(foreign).decode() or None)

    async def aacquire(self, key: str, owner: str, lease: timedelta, deadline: float) -> Lock | None:
        _, lock, fence = self._keys(key)
        args = (owner, lease_milliseconds(lease), micros(deadline))
        taken = int(await self._call(self._acquire, "lock", key, (lock, fence), args))
        return Lock(key, owner, taken) if taken > 0 else None

    async def arelease(self, key: str, owner: str) -> bool:
        _, lock, _ = self._keys(key)
        return bool(await self._call(self._release, "unlock", key, (lock,), (owner,)))

    async def aset_if_holder(self, lock: Lock, value: bytes, options: EntryOptions | None, deadline: float) -> bool:
        entry, lock_key, fence = self._keys(lock.key)
        args = [lock.owner, str(lock.fence), micros(deadline), *self._entry_args(lock.key, value, options)]
        return bool(await self._call(self._set_if_holder, "set", lock.key, (entry, lock_key, fence), args))

    async def aadd_if_unchanged(
        self, key: str, value: bytes, options: EntryOptions | None, seen: Observation, deadline: float
    ) -> bool:
        if seen.locked:
            return False
        entry, lock, fence = self._keys(key)
        args = [str(seen.fence), micros(deadline), *self._entry_args(key, value, options)]
        keys = (entry, lock, fence, self._epoch)
        return bool(await self._call(self._add_if_unchanged, "add", key, keys, args))

    async def aremove(self, key: str) -> None:
        await self.cache.aremove(key)
