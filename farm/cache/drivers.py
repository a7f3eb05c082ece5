"""The backends whose drivers are optional, imported only when one is asked for.

``farm.cache`` itself needs nothing outside the standard library: an application that only wants the
memory cache, or only Redis, installs only what it uses (``cachefarm[redis]``, ``cachefarm[sql]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from farm.cache.errors import MissingDriverError

if TYPE_CHECKING:
    from farm.cache.redis_cache import RedisCache
    from farm.cache.sql.cache import SqlCache


def load_redis_cache() -> type[RedisCache]:
    with _driver("redis", backend="RedisCache", package="redis (redis-py)", extra="redis"):
        from farm.cache.redis_cache import RedisCache
    return RedisCache


def load_sql_cache() -> type[SqlCache]:
    with _driver("pyodbc", backend="SqlCache", package="pyodbc", extra="sql"):
        from farm.cache.sql.cache import SqlCache
    return SqlCache


@contextmanager
def _driver(module: str, *, backend: str, package: str, extra: str) -> Iterator[None]:
    """Turns the driver's absence into an error that says what to install; any other import error stays."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != module:
            raise
        raise MissingDriverError(
            f"{backend} needs {package}, which is not installed: pip install 'cachefarm[{extra}]'",
            driver=module,
        ) from exc
