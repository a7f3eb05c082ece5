"""Which cache and write policy a farm gets from `--cache`, `--env`, the scenario's `caches` and the secrets."""

from __future__ import annotations

import pytest

from farm.config import CACHE_VARIANTS, CacheChoice, choose_cache
from farm.errors import FarmError


def test_a_cache_kind_alone_means_strict_writes() -> None:
    assert choose_cache("redis", None, {}) == CacheChoice("redis", None, "strict")
    assert choose_cache("redis", None, {}).name == "redis"


@pytest.mark.parametrize("kind", ["redis", "sql", "sqlite"])
def test_a_shared_cache_with_available_names_its_policy(kind: str) -> None:
    choice = choose_cache(f"{kind}/available", None, {})
    assert (choice.kind, choice.write_policy, choice.name) == (kind, "available", f"{kind}/available")
    assert choice.describe() == f"{kind}/available"


def test_the_policy_keeps_the_users_server_from_the_secrets() -> None:
    choice = choose_cache("sql/available", None, {"FARM_SQL_URL": "postgresql://u:hunter2@db:5432/cache"})
    assert choice.url == "postgresql://u:hunter2@db:5432/cache"
    assert "hunter2" not in choice.describe()
    assert choice.describe().startswith("sql/available (")


@pytest.mark.parametrize("text", ["memory/available", "none/available", "redis/strict", "redis/", "redis/eventual"])
def test_a_policy_without_a_shared_cache_or_unknown_is_refused(text: str) -> None:
    with pytest.raises(
        FarmError, match=f"unknown cache '{text}': use none, memory, redis, sql, sqlite, redis/available"
    ):
        choose_cache(text, None, {})


def test_every_variant_is_a_choice() -> None:
    assert {choose_cache(v, None, {}).name for v in CACHE_VARIANTS} == set(CACHE_VARIANTS)


@pytest.mark.parametrize(
    ("cache", "secrets", "where"),
    [
        ("redis://:hunter2 and more@127.0.0.1:6379/0", {}, "--cache"),
        ("redis", {"FARM_REDIS_URL": "redis://:hunter2 and more@db:6379/0"}, "FARM_REDIS_URL"),
        ("sql", {"FARM_SQL_URL": "postgresql://u:hunter2\tand more@db/cache"}, "FARM_SQL_URL"),
    ],
)
def test_a_url_with_whitespace_is_refused_without_showing_it(cache: str, secrets: dict[str, str], where: str) -> None:
    """Masking ends a URL at whitespace: such a URL would show part of its password wherever it is printed."""
    with pytest.raises(FarmError, match=f"the cache URL of {where} holds whitespace: percent-encode it") as refused:
        choose_cache(cache, None, secrets)
    assert "hunter2" not in str(refused.value)
    assert "more" not in str(refused.value)


def test_an_odbc_string_may_hold_spaces() -> None:
    text = "Driver={PostgreSQL Unicode};Server=db;Pwd=two words;"
    choice = choose_cache(text, None, {})
    assert (choice.kind, choice.url) == ("sql", text)
    assert "two words" not in choice.describe()
