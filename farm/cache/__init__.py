"""A distributed cache modelled on ASP.NET Core's ``IDistributedCache``, with memory, Redis and SQL backends.

Entries written here can be read by an ASP.NET Core farm sharing the same Redis or SQL table, and back.
Importing this package imports no driver: ``RedisCache`` and ``SqlCache`` load redis-py and pyodbc when
first named, and raise ``MissingDriverError`` (a ``CacheConfigError`` and an ``ImportError``) naming the pip
extra to install when the driver is missing.
"""

from typing import TYPE_CHECKING

from farm.cache.base import DistributedCache
from farm.cache.clock import Clock, system_clock
from farm.cache.errors import (
    CacheConfigError,
    CacheConnectionError,
    CacheError,
    ForeignEntryError,
    InvalidIdentifierError,
    KeyTooLongError,
    MissingDriverError,
)
from farm.cache.memory import MemoryCache
from farm.cache.options import EntryOptions
from farm.cache.secrets import mask_secrets
from farm.cache.urls import from_url

if TYPE_CHECKING:
    from farm.cache.redis_cache import RedisCache
    from farm.cache.sql.cache import SqlCache
else:
    # Hidden from mypy: a visible module __getattr__ would make every misspelt name type-check as Any.
    def __getattr__(name: str) -> type[DistributedCache]:
        from farm.cache.drivers import load_redis_cache, load_sql_cache

        loaders = {"RedisCache": load_redis_cache, "SqlCache": load_sql_cache}
        if name not in loaders:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        backend = loaders[name]()
        globals()[name] = backend
        return backend


__all__ = [
    "CacheConfigError",
    "CacheConnectionError",
    "CacheError",
    "Clock",
    "DistributedCache",
    "EntryOptions",
    "ForeignEntryError",
    "InvalidIdentifierError",
    "KeyTooLongError",
    "MemoryCache",
    "MissingDriverError",
    "RedisCache",
    "SqlCache",
    "from_url",
    "mask_secrets",
    "system_clock",
]
