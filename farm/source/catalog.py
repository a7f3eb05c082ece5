"""The catalog the source store serves: items made the same way every time, versions bumped by writes."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

EDITABLE_FIELDS = {"name": str, "price": float}


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
        for field, value in changes.items():
            expected = EDITABLE_FIELDS.get(field)
            if expected is None:
                raise BadItemUpdate(f"field {field!r} cannot be changed: use {', '.join(sorted(EDITABLE_FIELDS))}")
            if not isinstance(value, expected) and not (expected is float and isinstance(value, int)):
                raise BadItemUpdate(f"field {field!r} must be a {expected.__name__}, not {value!r}")
        sets = "".join(f", {field} = ?" for field in changes)
        with self._lock:
            row = self._conn.execute(
                f"UPDATE items SET version = version + 1{sets} WHERE id = ? RETURNING id, name, price, version",
                (*changes.values(), item_id),
            ).fetchone()
        if row is None:
            raise ItemNotFound(f"no item {item_id}")
        return Item(*row)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
