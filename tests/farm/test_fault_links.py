"""Cache URLs rerouted through a node's fault link: host and port change, the rest is kept, secrets stay hidden."""

from __future__ import annotations

import pytest

from farm.errors import FarmError
from farm.fault_links import cache_address, reroute


@pytest.mark.parametrize(
    ("url", "address", "rerouted"),
    [
        ("redis://127.0.0.1:6400/0", ("127.0.0.1", 6400), "redis://127.0.0.1:7001/0"),
        (
            "redis://:p%40ss:w@cache.example:6400/2?instance_name=a",
            ("cache.example", 6400),
            "redis://:p%40ss:w@127.0.0.1:7001/2?instance_name=a",
        ),
        ("rediss://user:pw@cache.example/0", ("cache.example", 6379), "rediss://user:pw@127.0.0.1:7001/0"),
        (
            "postgresql://cache:s3cret@db.example:5433/farm?table=Cache",
            ("db.example", 5433),
            "postgresql://cache:s3cret@127.0.0.1:7001/farm?table=Cache",
        ),
        (
            "postgresql://postgres@127.0.0.1/postgres",
            ("127.0.0.1", 5432),
            "postgresql://postgres@127.0.0.1:7001/postgres",
        ),
        ("mysql://root:pw@[::1]:3307/cachefarm", ("::1", 3307), "mysql://root:pw@127.0.0.1:7001/cachefarm"),
        ("mariadb://root@db/cachefarm", ("db", 3306), "mariadb://root@127.0.0.1:7001/cachefarm"),
    ],
)
def test_a_cache_url_goes_through_the_link_keeping_the_rest(url: str, address: tuple[str, int], rerouted: str) -> None:
    assert cache_address(url) == address
    assert reroute(url, 7001) == rerouted


@pytest.mark.parametrize(
    "url", [None, "memory://", "sqlite:///tmp/cache.db", "unix:///tmp/redis.sock", "Driver={PostgreSQL};Server=db"]
)
def test_caches_not_reached_over_tcp_have_no_address(url: str | None) -> None:
    assert cache_address(url) is None


def test_errors_never_show_the_password() -> None:
    with pytest.raises(FarmError) as raised:
        reroute("sqlite:///tmp/cache.db?password=hunter2", 7001)
    assert "hunter2" not in str(raised.value)
    with pytest.raises(FarmError) as raised:
        cache_address("redis://:hunter2@db:notaport/0")
    assert "hunter2" not in str(raised.value)
    assert "not reached over TCP" not in str(raised.value)
