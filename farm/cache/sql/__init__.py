"""The SQL backend: one cache table, four dialects, reached through pyodbc.

Dialects and targets need no driver; ``SqlCache`` imports pyodbc when first named (see farm.cache.drivers).
"""

from typing import TYPE_CHECKING

from farm.cache.sql.dialects import DIALECTS, Dialect
from farm.cache.sql.target import SqlTarget, parse_sql_target

if TYPE_CHECKING:
    from farm.cache.sql.cache import SqlCache
else:

    def __getattr__(name: str) -> type:
        if name != "SqlCache":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from farm.cache.drivers import load_sql_cache

        backend = load_sql_cache()
        globals()[name] = backend
        return backend


__all__ = ["DIALECTS", "Dialect", "SqlCache", "SqlTarget", "parse_sql_target"]
