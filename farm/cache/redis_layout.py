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
SLIDE_FUNCTION = """
local function slide(key, now, with_data)
  local fields
  if with_data then
    fields = redis.call('HMGET', key, 'absexp', 'sldexp', 'data')
  else
    fields = redis.call('HMGET', key, 'absexp', 'sldexp')
  end
  local sliding = fields[2]
  if sliding and sliding ~= '-1' then
    local ttl = tonumber(sliding)
    local absolute = fields[1]
    if absolute and absolute ~= '-1' then
      local left = tonumber(absolute) - tonumber(now)
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
SLIDE_SCRIPT = SLIDE_FUNCTION + "return slide(KEYS[1], ARGV[1], ARGV[2] == '1')\n"


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
    """What the script computes, for servers that refuse scripts; None when the entry does not slide."""
    if sliding is None or int(sliding) == NOT_PRESENT:
        return None
    ttl = int(sliding)
    if absolute is not None and int(absolute) != NOT_PRESENT:
        ttl = min(ttl, int(absolute) - datetime_to_ticks(now))
    return max(1, ttl // TICKS_PER_MILLISECOND)


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
