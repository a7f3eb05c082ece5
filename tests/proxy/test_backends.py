"""Round-robin choice as pure policy."""

from __future__ import annotations

from collections import Counter

import pytest

from proxy.backends import BackendPool, BackendState, DuplicateBackend, UnknownBackend


def test_round_robin_spreads_evenly_over_backends_that_are_up() -> None:
    pool = BackendPool()
    for name in ("a", "b", "c", "d"):
        pool.add(name, f"http://{name}")
    pool.get("d").state = BackendState.DOWN
    picks = Counter(pool.pick().name for _ in range(30))  # type: ignore[union-attr]
    assert picks == {"a": 10, "b": 10, "c": 10}


def test_no_backend_up_means_no_pick() -> None:
    pool = BackendPool()
    pool.add("a", "http://a").state = BackendState.DRAINING
    assert pool.pick() is None
    assert pool.pick(exclude=None) is None


def test_a_retry_never_picks_the_backend_that_failed() -> None:
    pool = BackendPool()
    a, b = pool.add("a", "http://a"), pool.add("b", "http://b")
    assert {pool.pick(exclude=a) for _ in range(5)} == {b}


def test_names_are_unique_and_known() -> None:
    pool = BackendPool()
    pool.add("a", "http://a/")
    assert pool.get("a").url == "http://a"
    with pytest.raises(DuplicateBackend, match="exists already"):
        pool.add("a", "http://other")
    with pytest.raises(UnknownBackend, match="no backend named 'z'"):
        pool.remove("z")
