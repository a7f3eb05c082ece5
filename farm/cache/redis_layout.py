"""The hash layout of Microsoft.Extensions.Caching.StackExchangeRedis, without I/O.

Shared by the sync and async halves of ``RedisCache`` so that both speak exactly the same format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from farm.cache.options import Expiry
from farm.cache.ticks import datetime_to_ticks, timedelta_to_ticks

ABSOLUTE_FIELD = "absexp"
SLIDING_FIELD = "sldexp"
DATA_FIELD = "data"
FIELDS = (ABSOLUTE_FIELD, SLIDING_FIELD, DATA_FIELD)
NOT_PRESENT = -1
TICKS_PER_MILLISECOND = 10_000

# One round trip for a read that slides: HMGET, then PEXPIRE to min(absexp - now, sldexp) when the entry
# has a sliding window. ARGV[1] is the client's "now" in UTC ticks, as .NET computes it on the client.
# Lua numbers are doubles: ticks near 6.4e17 keep a precision of about 10 microseconds, well below 1 ms.
# A key that something else wrote (a list, a string, a hash whose expiry fields are not numbers) is not an
# entry: slide returns false and what the key holds, instead of failing the script (pcall costs nothing more).
SLIDE_FUNCTION = """
local function slide(key, now, with_data)
  local fields
  if with_data then
    fields = redis.pcall('HMGET', key, 'absexp', 'sldexp', 'data')
  else
    fields = redis.pcall('HMGET', key, 'absexp', 'sldexp')
  end
  if fields.err then return false, redis.call('TYPE', key).ok end
  local sliding = fields[2]
  if sliding and sliding ~= '-1' then
    local ttl = tonumber(sliding)
    local absolute = fields[1]
    if not ttl then return false, 'hash' end
    if absolute and absolute ~= '-1' then
      local limit = tonumber(absolute)
      if not limit then return false, 'hash' end
      local left = limit - tonumber(now)
      if left < ttl then ttl = left end
    end
    local ms = math.floor(ttl / 10000)
    if ms < 1 then ms = 1 end
    redis.call('PEXPIRE', key, ms)
  end
  if with_data then return fields[3] end
  return false
end
"""
# What a key holds when it is not an entry of this cache: nil for nothing or an entry, else the Redis type
# ('list', 'string', ...; 'hash' for a hash without data or with expiry fields that are not numbers).
FOREIGN_FUNCTION = """
local function foreign(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'none' then return nil end
  if kind ~= 'hash' then return kind end
  local fields = redis.call('HMGET', key, 'absexp', 'sldexp', 'data')
  if not fields[3] or not tonumber(fields[1] or '-1') or not tonumber(fields[2] or '-1') then return 'hash' end
  return nil
end
"""
FOREIGN_ERROR = "WRONGTYPE"
"""The error code of a read that found something else at the key: Redis's own, and the slide script's."""
SLIDE_SCRIPT = (
    SLIDE_FUNCTION
    + f"""
local data, kind = slide(KEYS[1], ARGV[1], ARGV[2] == '1')
if kind then return redis.error_reply('{FOREIGN_ERROR} the key holds a ' .. kind .. ', not a cache entry') end
return data
"""
)


def hash_fields(value: bytes, expiry: Expiry) -> Mapping[Any, bytes | int]:
    """The three fields, in the order .NET writes them."""
    absolute = NOT_PRESENT if expiry.absolute is None else datetime_to_ticks(expiry.absolute)
    sliding = NOT_PRESENT if expiry.sliding is None else timedelta_to_ticks(expiry.sliding)
    return {ABSOLUTE_FIELD: absolute, SLIDING_FIELD: sliding, DATA_FIELD: value}


def queue_set(pipeline: Any, redis_key: str, value: bytes, expiry: Expiry, now: datetime) -> None:
    """Queues an overwrite on a MULTI/EXEC pipeline (sync or async): the old hash and its TTL go with it."""
    pipeline.delete(redis_key)
    pipeline.hset(redis_key, mapping=hash_fields(value, expiry))
    ttl = ttl_milliseconds(expiry, now)
    if ttl is not None:
        pipeline.pexpire(redis_key, ttl)


def ttl_milliseconds(expiry: Expiry, now: datetime) -> int | None:
    """The key's TTL at write time, at least 1 ms (a TTL of 0 would delete the key at once)."""
    expires_at = expiry.expires_at(now)
    if expires_at is None:
        return None
    ticks = timedelta_to_ticks(expires_at - now)
    return max(1, ticks // TICKS_PER_MILLISECOND)


def slide_ttl_milliseconds(absolute: bytes | None, sliding: bytes | None, now: datetime) -> int | None:
    """What the script computes, for servers that refuse scripts; None when the entry does not slide. A field
    that is not a number raises ``ValueError``: the key is not an entry of this cache."""
    if sliding is None or int(sliding) == NOT_PRESENT:
        return None
    ttl = int(sliding)
    if absolute is not None and int(absolute) != NOT_PRESENT:
        ttl = min(ttl, int(absolute) - datetime_to_ticks(now))
    return max(1, ttl // TICKS_PER_MILLISECOND)


def holds_entry(kind: bytes | str, fields: Sequence[bytes | None]) -> bool:
    """Whether a key of this Redis type and these (absexp, sldexp, data) fields is an entry of this cache, as the
    Lua ``foreign`` function decides: a key that holds anything else may be replaced."""
    if (kind.decode() if isinstance(kind, bytes) else kind) != "hash" or fields[2] is None:
        return False
    try:
        for field in fields[:2]:
            if field is not None:
                int(field)
    except ValueError:
        return False
    return True


def script_args(now: datetime, with_data: bool) -> Sequence[int | str]:
    return (datetime_to_ticks(now), "1" if with_data else "0")


def is_script_refusal(message: str) -> bool:
    """Whether a server error means that this server or user may not run scripts at all."""
    text = message.lower()
    return any(
        marker in text
        for marker in (
            "unknown command",
            "noperm",
            "not allowed",
            "disabled",
            "not supported",
            "no permissions",
        )
    )
