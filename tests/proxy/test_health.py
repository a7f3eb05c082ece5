"""The health checks keep running whatever one backend's check does."""

from __future__ import annotations

import aiohttp
import pytest

from proxy import health
from proxy.backends import Backend, BackendPool, BackendState, masked_url
from proxy.health import check_all


async def test_a_backend_with_a_port_out_of_range_is_down_and_the_checks_go_on() -> None:
    pool = BackendPool()
    unusable = pool.add("unusable", "http://u:secret@127.0.0.1:99999")
    closed = pool.add("closed", "http://127.0.0.1:9")
    async with aiohttp.ClientSession() as session:
        await check_all(pool, session, seconds=1.0)
    assert (unusable.state, closed.state) == (BackendState.DOWN, BackendState.DOWN)


async def test_a_check_that_raises_counts_as_down_and_the_others_count(monkeypatch: pytest.MonkeyPatch) -> None:
    async def check(session: aiohttp.ClientSession, backend: Backend, seconds: float) -> bool:
        if backend.name == "broken":
            raise RuntimeError("a check that fails in a way nobody foresaw")
        return True

    monkeypatch.setattr(health, "check", check)
    pool = BackendPool()
    broken, fine = pool.add("broken", "http://a"), pool.add("fine", "http://b")
    fine.state = BackendState.DOWN
    async with aiohttp.ClientSession() as session:
        await check_all(pool, session, seconds=1.0)
    assert (broken.state, fine.state) == (BackendState.DOWN, BackendState.UP)


def test_a_url_yarl_refuses_is_still_shown_without_its_password() -> None:
    assert masked_url("http://u:secret@127.0.0.1:99999") == "http://***@127.0.0.1:99999"
