"""Backends found by DNS: the URLs built from the addresses a name resolves to, and the flag's HOST:PORT."""

from __future__ import annotations

import pytest

from proxy.backends import BackendPool
from proxy.discovery import backend_url, parse_host_port, sync_once


def test_an_ipv6_address_is_bracketed_in_the_backend_url() -> None:
    assert backend_url("::1", 8000) == "http://[::1]:8000"
    assert backend_url("fd00::5", 80) == "http://[fd00::5]:80"
    assert backend_url("10.0.0.7", 8000) == "http://10.0.0.7:8000"


async def test_a_name_resolving_to_ipv6_gives_a_backend_the_proxy_can_reach() -> None:
    pool = BackendPool()
    await sync_once(pool, "::1", 8123, drain_seconds=1)
    assert [(b.name, b.url) for b in pool] == [("::1@::1", "http://[::1]:8123")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("node:8080", ("node", 8080)), ("[::1]:8080", ("::1", 8080)), ("[fd00::5]:80", ("fd00::5", 80))],
)
def test_host_port_accepts_bracketed_ipv6(value: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(value) == expected


@pytest.mark.parametrize("value", ["node", "node:", ":8080", "::1:8080", "[::1]", "[::1:8080", "node:http"])
def test_host_port_refuses_what_it_cannot_split_unambiguously(value: str) -> None:
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_host_port(value)
