"""Ports for the farm's listeners: never from the range the kernel gives the farm's own outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from farm import ports
from farm.ports import ephemeral_range, free_port


def test_free_ports_are_outside_the_ephemeral_range_bindable_and_never_handed_out_twice() -> None:
    low, high = ephemeral_range()
    chosen = [free_port() for _ in range(500)]
    assert len(set(chosen)) == len(chosen)
    assert all(port < low or port > high for port in chosen)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", chosen[-1]))


def test_a_port_someone_listens_on_is_not_chosen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        # Only one port outside the "ephemeral range": the one that is taken. The kernel's choice is the fallback.
        (tmp_path / "range").write_text(f"{ports.LOWEST}\t{port - 1}\n" if port > ports.LOWEST else "1\t65535\n")
        monkeypatch.setattr(ports, "EPHEMERAL_RANGE", tmp_path / "range")
        monkeypatch.setattr(ports, "_random", _Only(port))
        assert free_port() != port


class _Only:
    """A random source that always picks the same port."""

    def __init__(self, port: int) -> None:
        self.port = port

    def choices(self, spans: list[tuple[int, int]], weights: list[int]) -> list[tuple[int, int]]:
        return [spans[0]]

    def randint(self, start: int, end: int) -> int:
        return self.port
