"""The catalog the source store serves: items made the same way every time, versions bumped by writes."""

from __future__ import annotations

import math
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

EDITABLE_FIELDS = ("name", "price")
LARGEST_ID = 2**63 - 1
"""SQLite's largest integer: a larger id names no item."""


class ItemNotFound(LookupError):
    pass


class BadItemUpdate(ValueError):
    pass


@dataclass(frozen=True)
class Item:
    id: int
    name: str
    price: float
    version: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


CATALOG_ITEMS = 1000
"""Items in a new catalog (ids 1 to 1000): what the farm's source store holds, and so the keys a scenario can use."""


def parse_item_id(raw: str) -> int:
    """An item id as a path gives it: ASCII digits only, so that one item has one spelling in the cache's keys
    (``int()`` also takes signs, underscores, spaces and other scripts' digits). ValueError if it is none;
    ItemNotFound if it is beyond any item (it may have more digits than ``int()`` converts)."""
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"item id must be a whole number, not {raw!r}")
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(LARGEST_ID)) or int(digits) > LARGEST_ID:
        raise ItemNotFound(f"no item {digits[:40]}{'...' if len(digits) > 40 else ''}")
    return int(digits)


def _checked(field: str, value: Any) -> str | float:
    """The value as the catalog holds it; BadItemUpdate naming the field if it cannot."""
    if field == "price":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadItemUpdate(f"field 'price' must be a number, not {value!r:.80}")
        try:
            price = float(value)
        except OverflowError:
            price = math.inf
        if not math.isfinite(price):
            raise BadItemUpdate(f"field 'price' must be a finite number, not {value!r:.80}")
        return price
    if not isinstance(value, str):
        raise BadItemUpdate(f"field 'name' must be a str, not {value!r:.80}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise BadItemUpdate(f"field 'name' must be text without lone surrogates, not {value!r:.80}") from None
    return value


def initial_item(item_id: int) -> Item:
    """Deterministic, so that every run of a scenario starts from the same catalog."""
    return Item(item_id, f"item-{item_id}", round(1 + (item_id * 7919 % 10_000) / 100, 2), 1)


class Catalog:
    """A SQLite file of items. Calls are short and serialised by one lock: callers run them off the loop."""

    def __init__(self, path: Path | str, items: int = CATALOG_ITEMS) -> None:
        if items < 1:
            raise ValueError(f"items={items}: the catalog needs at least one item")
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "price REAL NOT NULL, version INTEGER NOT NULL)"
            )
            count = self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            if count < items:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?)",
                    [tuple(asdict(initial_item(i)).values()) for i in range(1, items + 1)],
                )

    def get(self, item_id: int) -> Item:
        with self._lock:
            row = self._conn.execute("SELECT id, name, price, version FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise ItemNotFound(f"no item {item_id}")
        return Item(*row)

    def update(self, item_id: int, changes: dict[str, Any]) -> Item:
        """Applies the changes and bumps the version, in one statement."""
        if not isinstance(changes, dict):
            raise BadItemUpdate(f"the body must be a JSON object of fields to change, not {type(changes).__name__}")
        for field in changes:
            if field not in EDITABLE_FIELDS:
                raise BadItemUpdate(f"field {field!r:.80} cannot be changed: use {', '.join(EDITABLE_FIELDS)}")
        values = {field: _checked(field, value) for field, value in changes.items()}
        sets = "".join(f", {field} = ?" for field in values)
        with self._lock:
            row = self._conn.execute(
                f"UPDATE items SET version = version + 1{sets} WHERE id = ? RETURNING id, name, price, version",
                (*values.values(), item_id),
            ).fetchone()
        if row is None:
            raise ItemNotFound(f"no item {item_id}")
        return Item(*row)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
