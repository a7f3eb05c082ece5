"""The argparse types of a node's numeric flags, shared by ``python -m nodes`` and ``farm up``: one range per
flag, taken from the settings that use it."""

from __future__ import annotations

import argparse

from farm.flags import number_between, whole_number_between
from nodes.admission import MOST_REQUESTS, QUEUE_TIMEOUT_MS_RANGE, AdmissionLimits
from nodes.settings import LONGEST_ITEM_LIFETIME_S, LONGEST_TIMEOUT_S

item_lifetime = number_between(0, LONGEST_ITEM_LIFETIME_S, "seconds (0: none)")
"""``--item-sliding``, ``--item-absolute``: 0 leaves the expiration out."""
timeout_ms = number_between(0, LONGEST_TIMEOUT_S * 1000, "milliseconds", above_low=True)
timeout_s = number_between(0, LONGEST_TIMEOUT_S, "seconds", above_low=True)
queue_timeout_ms = number_between(*QUEUE_TIMEOUT_MS_RANGE, "milliseconds")
requests = whole_number_between(0, MOST_REQUESTS, "requests")
"""``--max-in-flight`` (0: no limit) and ``--max-queue``."""


def add_admission_arguments(parser: argparse.ArgumentParser, *, whose: str = "") -> None:
    """``--max-in-flight``, ``--max-queue`` and ``--queue-timeout-ms``, with the node's defaults; ``whose``: e.g.
    " at each node", for a command that sets them for every node of a farm."""
    limits = AdmissionLimits()
    parser.add_argument(
        "--max-in-flight",
        type=requests,
        default=limits.max_in_flight,
        help=f"item requests handled at once{whose}, 0: no limit (default {limits.max_in_flight}); more wait in line",
    )
    parser.add_argument(
        "--max-queue",
        type=requests,
        default=limits.max_queue,
        help=f"requests waiting in line{whose} (default {limits.max_queue}); one more is answered 503 at once",
    )
    parser.add_argument(
        "--queue-timeout-ms",
        type=queue_timeout_ms,
        default=limits.queue_timeout * 1000,
        help=f"how long a request may wait in line before it is shed (default {limits.queue_timeout * 1000:g})",
    )
