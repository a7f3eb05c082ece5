"""The SQL backend: one cache table, four dialects, reached through pyodbc."""

from farm.cache.sql.cache import SqlCache
from farm.cache.sql.dialects import DIALECTS, Dialect
from farm.cache.sql.target import SqlTarget, parse_sql_target

__all__ = ["DIALECTS", "Dialect", "SqlCache", "SqlTarget", "parse_sql_target"]
