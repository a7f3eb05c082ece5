"""farm.cache imports no driver until a backend is asked for, and a missing driver says what to install.

Each check runs in a fresh interpreter of this virtualenv, where the test suite has not imported the drivers
already; tests/cache/test_packaging.py repeats them in virtualenvs where the drivers are really absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from farm.cache import CacheConfigError, CacheError, MissingDriverError
from farm.cache.drivers import _driver


def run_python(code: str) -> Any:
    """Runs ``code`` in a new interpreter and returns the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_cache_loads_nothing_outside_the_standard_library() -> None:
    loaded = run_python(
        """
        import json, sys
        before = set(sys.modules)
        import farm.cache, farm.cache.sql
        from farm.cache import EntryOptions, MemoryCache, from_url
        from farm.cache.sql import DIALECTS, parse_sql_target
        new = {name.partition(".")[0] for name in set(sys.modules) - before}
        print(json.dumps(sorted(new - set(sys.stdlib_module_names))))
        """
    )
    assert loaded == ["farm"]


def test_a_backend_loads_its_own_driver_only_when_named() -> None:
    loaded = run_python(
        """
        import json, sys
        from farm.cache import from_url
        steps = {"import": sorted(m for m in ("redis", "pyodbc") if m in sys.modules)}
        from_url("redis://127.0.0.1:1/0").close()
        steps["redis url"] = sorted(m for m in ("redis", "pyodbc") if m in sys.modules)
        from farm.cache import SqlCache
        steps["SqlCache"] = sorted(m for m in ("redis", "pyodbc") if m in sys.modules)
        print(json.dumps(steps))
        """
    )
    assert loaded == {"import": [], "redis url": ["redis"], "SqlCache": ["pyodbc", "redis"]}


def test_missing_drivers_name_the_extra_to_install() -> None:
    # None in sys.modules makes an import fail as if the package were not installed.
    outcomes = run_python(
        """
        import json, sys
        sys.modules["redis"] = None
        sys.modules["pyodbc"] = None
        from farm.cache import CacheConfigError, MemoryCache, from_url

        outcomes = {}
        for url in ("redis://:hunter2@cache:6379/0", "rediss://cache/0", "postgresql://app@db/shop",
                    "mariadb://root@db/shop", "sqlite:///cache.db", "mssql://sa@sql/shop",
                    "Driver={PostgreSQL Unicode};Server=db;Database=shop"):
            try:
                from_url(url)
            except CacheConfigError as exc:
                outcomes[url] = [type(exc).__name__, str(exc), isinstance(exc, ImportError), exc.name]
        for name in ("RedisCache", "SqlCache"):
            try:
                exec(f"from farm.cache import {name}")
            except ImportError as exc:
                outcomes[name] = [type(exc).__name__, str(exc)]
        try:
            from farm.cache.sql import SqlCache
        except ImportError as exc:
            outcomes["farm.cache.sql.SqlCache"] = [type(exc).__name__, str(exc)]
        memory = from_url("memory://")
        memory.set("k", b"v")
        outcomes["memory"] = memory.get("k").decode()
        print(json.dumps(outcomes))
        """
    )
    redis_message = "RedisCache needs redis (redis-py), which is not installed: pip install 'cachefarm[redis]'"
    sql_message = "SqlCache needs pyodbc, which is not installed: pip install 'cachefarm[sql]'"
    for url in ("redis://:hunter2@cache:6379/0", "rediss://cache/0"):
        assert outcomes[url] == ["MissingDriverError", redis_message, True, "redis"]
    for url in (
        "postgresql://app@db/shop",
        "mariadb://root@db/shop",
        "sqlite:///cache.db",
        "mssql://sa@sql/shop",
        "Driver={PostgreSQL Unicode};Server=db;Database=shop",
    ):
        assert outcomes[url] == ["MissingDriverError", sql_message, True, "pyodbc"]
    assert outcomes["RedisCache"] == ["MissingDriverError", redis_message]
    assert outcomes["SqlCache"] == outcomes["farm.cache.sql.SqlCache"] == ["MissingDriverError", sql_message]
    assert outcomes["memory"] == "v"


def test_a_missing_driver_is_a_config_error_and_an_import_error() -> None:
    error = MissingDriverError("RedisCache needs redis: pip install 'cachefarm[redis]'", driver="redis")
    assert isinstance(error, CacheConfigError)
    assert isinstance(error, CacheError)
    assert isinstance(error, ValueError)
    assert isinstance(error, ImportError)
    assert (error.name, error.msg, str(error)) == ("redis", str(error), error.args[0])
    with pytest.raises(ImportError, match=r"pip install 'cachefarm\[redis\]'"):
        raise error


def test_only_the_drivers_own_absence_is_translated() -> None:
    redis = _driver("redis", backend="RedisCache", package="redis", extra="redis")
    with pytest.raises(MissingDriverError, match=r"cachefarm\[redis\]"), redis:
        raise ModuleNotFoundError("No module named 'redis.asyncio'", name="redis.asyncio")
    # Anything else missing is a bug or a broken install, not a missing extra: it stays as it is.
    redis = _driver("redis", backend="RedisCache", package="redis", extra="redis")
    with pytest.raises(ModuleNotFoundError, match="yaml"), redis:
        raise ModuleNotFoundError("No module named 'yaml'", name="yaml")
