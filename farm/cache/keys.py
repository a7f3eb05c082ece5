"""The one place where keys and values are checked, before any backend sees them."""

from __future__ import annotations

import re
from typing import Any

from farm.cache.errors import KeyTooLongError

_SURROGATE = re.compile("[\ud800-\udfff]")


def key_length(key: str) -> int:
    """Length in UTF-16 code units, the unit of SQL Server's nvarchar (an emoji counts 2)."""
    return len(key.encode("utf-16-le")) // 2


def validate_key(key: Any, max_length: int | None = None, *, nul_allowed: bool = True) -> str:
    """``nul_allowed``: False where the store cuts text at a NUL (two keys would share one entry)."""
    if not isinstance(key, str):
        raise TypeError(f"cache key must be a str, not {type(key).__name__}: {key!r}")
    if not key:
        raise ValueError("cache key must not be empty")
    # No backend can send a lone surrogate (half of a UTF-16 pair, as from a bad decode) to its server.
    if not key.isascii() and _SURROGATE.search(key):
        raise ValueError(f"cache key {key[:40]!r} is not valid Unicode text: it holds a lone surrogate")
    if not nul_allowed and "\x00" in key:
        raise ValueError(f"cache key {key[:40]!r} holds a NUL character, which this cache cannot store")
    # A str of n characters holds at most 2n UTF-16 code units: only long keys need counting.
    if max_length is not None and 2 * len(key) > max_length and key_length(key) > max_length:
        raise KeyTooLongError(
            f"cache key {key[:40]!r}... is {key_length(key)} characters (UTF-16 code units) long; "
            f"this cache holds keys of at most {max_length}: shorten or hash it"
        )
    return key


def validate_value(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    hint = " (use set_string for text)" if isinstance(value, str) else ""
    raise TypeError(f"cache value must be bytes, not {type(value).__name__}{hint}")
