"""from_url, SQL targets and secret masking: what a user types, and the errors that tell them what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.cache import CacheConfigError, MemoryCache, RedisCache, SqlCache, from_url, mask_secrets
from farm.cache.sql.target import parse_sql_target


def test_memory_url() -> None:
    cache = from_url("memory://?size_limit=1024")
    assert isinstance(cache, MemoryCache)
    assert cache.size_limit == 1024
    with pytest.raises(CacheConfigError, match="size_limit='lots' in memory://"):
        from_url("memory://?size_limit=lots")


def test_redis_urls_keep_password_db_and_tls() -> None:
    cache = from_url("rediss://:pw@cache.example:6380/2?instance_name=App:")
    assert isinstance(cache, RedisCache)
    assert cache.instance_name == "App:"
    kwargs = cache._client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("cache.example", 6380, 2, "pw")
    assert "pw" not in repr(cache)
    cache.close()


@pytest.mark.parametrize(
    "url",
    ["ftp://user:hunter2@host/x", "postgres+psycopg://u:hunter2@h/db", "http://:hunter2@host"],
)
def test_unknown_urls_name_the_url_with_the_password_masked(url: str) -> None:
    with pytest.raises(CacheConfigError, match="unknown cache URL") as caught:
        from_url(url)
    assert "hunter2" not in str(caught.value)


def test_malformed_redis_url_is_a_config_error_without_password() -> None:
    with pytest.raises(CacheConfigError, match="bad Redis URL") as caught:
        from_url("redis://:hunter2@host:notaport/0")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://:hunter2[@cache:6379/0", "malformed cache URL redis://:\\*\\*\\*@cache:6379/0: an unbalanced '\\['"),
        ("redis://:hunter2\uff1f@cache:6379/0", "Unicode normalisation turns into"),
        ("postgresql://app:hunter2[x@db/shop", "malformed cache URL postgresql://app:\\*\\*\\*@db/shop"),
        ("redis://:hunter2 with spaces@cache:6379/0", "holds no whitespace: percent-encode it"),
    ],
)
def test_urls_that_cannot_be_parsed_are_config_errors_without_the_password(url: str, message: str) -> None:
    with pytest.raises(CacheConfigError, match=message) as caught:
        from_url(url)
    assert "hunter2" not in str(caught.value)
    assert "spaces" not in str(caught.value)


def test_empty_url() -> None:
    with pytest.raises(CacheConfigError, match="non-empty"):
        from_url("  ")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://app:p%40ss@db.local:5433/shop?schema=cache&table=Entries",
            (
                "postgresql",
                "Driver={PostgreSQL Unicode};Server=db.local;Port=5433;Database=shop;Uid=app;Pwd=p@ss;CommLog=0;",
                "cache",
                "Entries",
            ),
        ),
        (
            "mysql://root@127.0.0.1/app",
            (
                "mariadb",
                "Driver={MariaDB Unicode};Server=127.0.0.1;Port=3306;Database=app;User=root;",
                None,
                "DistributedCache",
            ),
        ),
        (
            "mssql://sa:Secret;1@sql:1433/app?TrustServerCertificate=yes",
            (
                "sqlserver",
                "Driver={ODBC Driver 18 for SQL Server};Server=sql,1433;Database=app;UID=sa;"
                "PWD={Secret;1};TrustServerCertificate=yes;",
                "dbo",
                "DistributedCache",
            ),
        ),
        (
            "sqlite:////var/lib/cache.db",
            (
                "sqlite",
                "Driver={SQLite3};Database=/var/lib/cache.db;Timeout=10000;BigInt=1;",
                "main",
                "DistributedCache",
            ),
        ),
    ],
)
def test_sql_urls_become_odbc_connection_strings(url: str, expected: tuple[str, str, str | None, str]) -> None:
    target = parse_sql_target(url)
    assert (target.dialect.name, target.connection_string, target.schema, target.table) == expected


def test_odbc_connection_strings_are_accepted_and_their_dialect_detected(tmp_path: Path) -> None:
    target = parse_sql_target("Driver={PostgreSQL Unicode};Server=h;Database=d;Uid=u;Pwd=x", table="T")
    assert (target.dialect.name, target.schema, target.table) == ("postgresql", "public", "T")
    assert parse_sql_target("DRIVER={ODBC Driver 18 for SQL Server};SERVER=h").dialect.name == "sqlserver"
    cache = from_url(f"Driver={{SQLite3}};Database={tmp_path / 'x.db'}")
    assert isinstance(cache, SqlCache)
    assert cache.dialect.name == "sqlite"
    assert cache.target.connection_string.endswith(";BigInt=1;"), "64-bit integers need it with this driver"
    cache.close()


def test_an_odbc_string_without_a_known_driver_asks_for_the_dialect() -> None:
    with pytest.raises(CacheConfigError, match="cannot tell the SQL dialect") as caught:
        parse_sql_target("DSN=shop;Pwd=hunter2")
    assert "hunter2" not in str(caught.value)
    assert parse_sql_target("DSN=shop;Pwd=hunter2", dialect="mariadb").dialect.name == "mariadb"
    with pytest.raises(CacheConfigError, match="unknown SQL dialect 'oracle'"):
        parse_sql_target("DSN=shop", dialect="oracle")


@pytest.mark.parametrize("bad", ["Cache; DROP TABLE x", "1cache", "ca-che", " ", "a" * 64])
def test_table_names_must_be_plain_identifiers(bad: str) -> None:
    with pytest.raises(CacheConfigError, match="table name") as caught:
        parse_sql_target("postgresql://u@h/d", table=bad)
    assert repr(bad) in str(caught.value)


def test_sqlite_url_without_a_file() -> None:
    with pytest.raises(CacheConfigError, match="names no file"):
        parse_sql_target("sqlite://")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("redis://:s3cret@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://user:p@ss:w@rd@h/0", "redis://user:***@h/0"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("Driver={X};Server=h;PWD={a;b}};c};Uid=u", "Driver={X};Server=h;PWD=***;Uid=u"),
        ("Driver={X};Password=abc;", "Driver={X};Password=***;"),
        ("redis://h/0?password=xx&db=1", "redis://h/0?password=***&db=1"),
        # A raw '/' or '#' in the password (not percent-encoded): the URL is broken, but its password is still one.
        ("redis://:s3c/ret@h:6379/0", "redis://:***@h:6379/0"),
        ("cannot reach rediss://user:pa#ss/w@h/0: refused", "cannot reach rediss://user:***@h/0: refused"),
        ("postgresql://app:a/b#c?d@db/shop", "postgresql://app:***@db/shop"),
        ("Driver={X};PWD=a b&c;Uid=u", "Driver={X};PWD=***;Uid=u"),
    ],
)
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
