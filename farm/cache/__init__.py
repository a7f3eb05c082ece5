"""A distributed cache modelled on ASP.NET Core's ``IDistributedCache``, with memory, Redis and SQL backends.

Entries written here can be read by an ASP.NET Core farm sharing the same Redis or SQL table, and back.
"""

from farm.cache.base import DistributedCache
from farm.cache.clock import Clock, system_clock
from farm.cache.errors import (
    CacheConfigError,
    CacheConnectionError,
    CacheError,
    InvalidIdentifierError,
    KeyTooLongError,
)
from farm.cache.memory import MemoryCache
from farm.cache.options import EntryOptions
from farm.cache.redis_cache import RedisCache
from farm.cache.secrets import mask_secrets
from farm.cache.sql import SqlCache
from farm.cache.urls import from_url

__all__ = [
    "CacheConfigError",
    "CacheConnectionError",
    "CacheError",
    "Clock",
    "DistributedCache",
    "EntryOptions",
    "InvalidIdentifierError",
    "KeyTooLongError",
    "MemoryCache",
    "RedisCache",
    "SqlCache",
    "from_url",
    "mask_secrets",
    "system_clock",
]
