"""The cache interface, modelled on ASP.NET Core's ``IDistributedCache``.

Public methods validate the key and value and resolve the options once; a backend writes only the private
primitives (``_get``, ``_set``, ...) and their async twins.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

from farm.cache.clock import Clock, system_clock
from farm.cache.keys import validate_key, validate_value
from farm.cache.options import EntryOptions, Expiry, resolve_expiry


class DistributedCache(ABC):
    """Bytes by string key, shared by every process that opens the same backend."""

    max_key_length: ClassVar[int | None] = None
    nul_in_keys: ClassVar[bool] = True
    """Whether keys may hold NUL: not where the server cuts text at it (two keys would share one entry)."""

    def __init__(self, *, clock: Clock = system_clock, default_options: EntryOptions | None = None) -> None:
        self._clock = clock
        self._default_options = default_options

    # -- the required primitives -------------------------------------------------------------------
    @abstractmethod
    def _get(self, key: str) -> bytes | None: ...

    @abstractmethod
    def _set(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None: ...

    @abstractmethod
    def _refresh(self, key: str) -> None: ...

    @abstractmethod
    def _remove(self, key: str) -> None: ...

    @abstractmethod
    def _add(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> bool: ...

    @abstractmethod
    async def _aget(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def _aset(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None: ...

    @abstractmethod
    async def _arefresh(self, key: str) -> None: ...

    @abstractmethod
    async def _aremove(self, key: str) -> None: ...

    @abstractmethod
    async def _aadd(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def awarm_up(self) -> None:
        """Opens the connections a backend pools, ahead of the first requests; by default there is nothing to open."""
        return None

    # -- the interface -----------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return validate_key(key, self.max_key_length, nul_allowed=self.nul_in_keys)

    def _prepare_set(self, key: str, value: bytes, options: EntryOptions | None) -> tuple[str, bytes, Expiry, datetime]:
        key = self._key(key)
        value = validate_value(value)
        if options is not None and not isinstance(options, EntryOptions):
            raise TypeError(f"options must be EntryOptions, not {type(options).__name__}")
        now = self._clock()
        if options is None or options.is_empty:
            options = self._default_options
        return key, value, resolve_expiry(options, now), now

    def get(self, key: str) -> bytes | None:
        """The value, or None when the key is missing or expired; slides the entry's window."""
        return self._get(self._key(key))

    def set(self, key: str, value: bytes, options: EntryOptions | None = None) -> None:
        self._set(*self._prepare_set(key, value, options))

    def add(self, key: str, value: bytes, options: EntryOptions | None = None) -> bool:
        """Stores the value only if the key holds no live entry (an expired one counts as none); True if it
        did. Atomic on every backend: of several processes adding one key at once, exactly one succeeds.

        Not part of .NET's ``IDistributedCache`` (the entry it writes is the same): it lets a reader that
        missed put what it read from the source store without overwriting a newer value a writer put
        meanwhile, and it makes a lock."""
        return self._add(*self._prepare_set(key, value, options))

    def refresh(self, key: str) -> None:
        """Slides the entry's window without reading its value."""
        self._refresh(self._key(key))

    def remove(self, key: str) -> None:
        self._remove(self._key(key))

    async def aget(self, key: str) -> bytes | None:
        return await self._aget(self._key(key))

    async def aset(self, key: str, value: bytes, options: EntryOptions | None = None) -> None:
        await self._aset(*self._prepare_set(key, value, options))

    async def aadd(self, key: str, value: bytes, options: EntryOptions | None = None) -> bool:
        return await self._aadd(*self._prepare_set(key, value, options))

    async def arefresh(self, key: str) -> None:
        await self._arefresh(self._key(key))

    async def aremove(self, key: str) -> None:
        await self._aremove(self._key(key))

    def get_string(self, key: str) -> str | None:
        value = self.get(key)
        return None if value is None else value.decode("utf-8")

    def set_string(self, key: str, value: str, options: EntryOptions | None = None) -> None:
        self.set(key, _encode(value), options)

    async def aget_string(self, key: str) -> str | None:
        value = await self.aget(key)
        return None if value is None else value.decode("utf-8")

    async def aset_string(self, key: str, value: str, options: EntryOptions | None = None) -> None:
        await self.aset(key, _encode(value), options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _encode(value: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"set_string takes a str, not {type(value).__name__}")
    return value.encode("utf-8")
