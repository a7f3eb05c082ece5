"""Latency without netem: packets of a link go to a netfilter queue (iptables ``NFQUEUE``) and are let through once
their delay has passed. The kernel holds each packet until this program gives its verdict, so the delay is real
network delay in the node's namespace, seen by every connection, open or new.

The netlink protocol is spoken with the standard library (``socket``, ``struct``); the constants are those of
``linux/netfilter/nfnetlink_queue.h``.
"""

from __future__ import annotations

import errno
import heapq
import os
import random
import select
import socket
import struct
import time
from collections.abc import Callable, Iterator

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQA_CFG_F_FAIL_OPEN = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_COPY_META = 1
NF_ACCEPT = 1
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLA_TYPE_MASK = 0x3FFF
QUEUE_MAXLEN = 20_000
"""Packets held at once; beyond them the queue fails open (lets packets through undelayed) rather than dropping."""
RECEIVE_BUFFER = 8 * 1024 * 1024


class QueueError(OSError):
    """The kernel refused a netfilter queue request (no CAP_NET_ADMIN, a queue number taken, no NFQUEUE support)."""


def _attribute(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(kind: int, queue: int, attributes: bytes, *, seq: int, family: int = socket.AF_UNSPEC) -> bytes:
    body = struct.pack("=BB", family, 0) + struct.pack("!H", queue) + attributes
    flags = NLM_F_REQUEST | (NLM_F_ACK if kind == NFQNL_MSG_CONFIG else 0)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body


def config_messages(queue: int) -> list[bytes]:
    """Bind the queue, copy packets' metadata only (no payload), hold many, fail open when full."""
    return [
        _message(NFQNL_MSG_CONFIG, queue, _attribute(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)), seq=1),
        _message(NFQNL_MSG_CONFIG, queue, _attribute(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)), seq=2),
        _message(NFQNL_MSG_CONFIG, queue, _attribute(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN)), seq=3),
        _message(
            NFQNL_MSG_CONFIG,
            queue,
            _attribute(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))
            + _attribute(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)),
            seq=4,
        ),
    ]


def verdict_message(queue: int, packet_id: int) -> bytes:
    return _message(
        NFQNL_MSG_VERDICT, queue, _attribute(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id)), seq=0
    )


def parse_messages(data: bytes) -> Iterator[tuple[str, int]]:
    """``("packet", id)`` for each queued packet, ``("error", errno)`` for each netlink error (0: an ack)."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            return
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, offset + 16)
            yield "error", -code
        elif kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            position = offset + 20  # the netlink header, then nfgenmsg
            while position + 4 <= offset + length:
                attribute_length, attribute_kind = struct.unpack_from("=HH", data, position)
                if attribute_length < 4:
                    break
                if attribute_kind & NLA_TYPE_MASK == NFQA_PACKET_HDR:
                    (packet_id,) = struct.unpack_from("!I", data, position + 4)
                    yield "packet", packet_id
                    break
                position += attribute_length + (-attribute_length % 4)
        offset += length + (-length % 4)


class DelayQueue:
    """Holds each packet of one queue ``ms`` ± ``jitter_ms``, releasing them in the order they came."""

    def __init__(self, queue: int, ms: float, jitter_ms: float, *, rng: random.Random | None = None) -> None:
        self.queue = queue
        self.ms, self.jitter_ms = ms, jitter_ms
        self._rng = rng or random.Random()
        self._held: list[tuple[float, int]] = []
        self._last_release = 0.0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        self.sock.bind((0, 0))
        for message in config_messages(queue):
            self.sock.send(message)
            for kind, code in parse_messages(self.sock.recv(65536)):
                if kind == "error" and code != 0:
                    raise QueueError(code, f"netfilter queue {queue}: {os.strerror(code)}")

    def release_time(self, arrived: float) -> float:
        """Arrival plus the delay, never before the packet ahead of it: a link delays, it does not reorder."""
        delay = (self.ms + self._rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000.0
        self._last_release = max(arrived + max(delay, 0.0), self._last_release)
        return self._last_release

    def run(self, keep_going: Callable[[], bool], poll_s: float = 0.2) -> None:
        """Delays packets while ``keep_going()``; then lets every held packet through at once."""
        while keep_going():
            now = time.monotonic()
            while self._held and self._held[0][0] <= now:
                self._accept(heapq.heappop(self._held)[1])
            wait = min(self._held[0][0] - now, poll_s) if self._held else poll_s
            readable, _, _ = select.select([self.sock], [], [], max(wait, 0.0))
            if not readable:
                continue
            try:
                data = self.sock.recv(65536)
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    continue  # a message lost: that packet is sent again by TCP, and queued anew
                raise
            arrived = time.monotonic()
            for kind, value in parse_messages(data):
                if kind == "packet":
                    heapq.heappush(self._held, (self.release_time(arrived), value))
        self.release_all()

    def release_all(self) -> None:
        while self._held:
            self._accept(heapq.heappop(self._held)[1])

    def _accept(self, packet_id: int) -> None:
        self.sock.send(verdict_message(self.queue, packet_id))

    def close(self) -> None:
        self.release_all()
        self.sock.close()
