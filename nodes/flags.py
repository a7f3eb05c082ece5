"""The argparse types of a node's numeric flags, shared by ``python -m nodes`` and ``farm up``: one range per
flag, taken from the settings that use it."""

from __future__ import annotations

from farm.flags import number_between, whole_number_between
from nodes.admission import MOST_REQUESTS, QUEUE_TIMEOUT_MS_RANGE
from nodes.settings import LONGEST_ITEM_LIFETIME_S, LONGEST_TIMEOUT_S

item_lifetime = number_between(0, LONGEST_ITEM_LIFETIME_S, "seconds (0: none)")
"""``--item-sliding``, ``--item-absolute``: 0 leaves the expiration out."""
timeout_ms = number_between(0, LONGEST_TIMEOUT_S * 1000, "milliseconds", above_low=True)
timeout_s = number_between(0, LONGEST_TIMEOUT_S, "seconds", above_low=True)
queue_timeout_ms = number_between(*QUEUE_TIMEOUT_MS_RANGE, "milliseconds")
requests = whole_number_between(0, MOST_REQUESTS, "requests")
"""``--max-in-flight`` (0: no limit) and ``--max-queue``."""
