"""The memory backend's own promise: a bounded size, least recently used entries evicted first."""

from __future__ import annotations

import pytest

from farm.cache import MemoryCache


def test_default_limit_is_200_mib() -> None:
    assert MemoryCache().size_limit == 200 * 1024 * 1024


def test_least_recently_used_entries_are_evicted_to_stay_within_the_limit() -> None:
    cache = MemoryCache(size_limit=300)
    cache.set("a", b"a" * 100)
    cache.set("b", b"b" * 100)
    cache.set("c", b"c" * 100)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.set("d", b"d" * 100)
    assert cache.get("b") is None
    assert [cache.get(k) is not None for k in "acd"] == [True, True, True]
    assert cache.size == 300
    assert cache.evictions == 1


def test_overwrites_count_the_new_size_only() -> None:
    cache = MemoryCache(size_limit=100)
    for _ in range(10):
        cache.set("k", b"x" * 90)
    assert cache.size == 90
    assert cache.evictions == 0


def test_a_value_larger_than_the_limit_is_not_stored() -> None:
    cache = MemoryCache(size_limit=10)
    cache.set("k", b"small")
    cache.set("k", b"x" * 11)
    assert cache.get("k") is None
    assert cache.size == 0


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size_limit=0"):
        MemoryCache(size_limit=0)
