"""The argparse types of the source store's flags, shared by ``python -m farm.source``, ``farm up`` and
``farm source``: the faults' ranges are those ``PUT /control`` holds them to (``LIMITS``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from farm.flags import number_between, whole_number_between
from farm.source.faults import LIMITS

MOST_ITEMS = 1_000_000
"""The most items a new catalog is made with: more would keep the store from starting for minutes."""

latency_ms = number_between(*LIMITS["latency_ms"], "milliseconds")
jitter_ms = number_between(*LIMITS["jitter_ms"], "milliseconds")
fail_writes_after_apply = number_between(*LIMITS["fail_writes_after_apply"], "(a share of writes)")
items = whole_number_between(1, MOST_ITEMS, "items")


def catalog(text: str) -> Path:
    """A SQLite file in a folder that exists (the file is created if missing)."""
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: there is no folder {path.parent} to hold it")
    return path
