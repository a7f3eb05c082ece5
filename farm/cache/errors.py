"""The exceptions of farm.cache: one root, each also deriving from the nearest builtin."""

from __future__ import annotations


class CacheError(Exception):
    """A cache operation failed; the driver's exception is chained as ``__cause__``."""


class CacheConnectionError(CacheError, ConnectionError):
    """The cache server could not be reached, or did not answer in time."""


class ForeignEntryError(CacheError):
    """The key holds something this cache did not write (another Redis type, or a hash that is not an entry):
    reads fail until a ``set`` (or an ``add``, which treats it as no entry) replaces it, or a ``remove``."""


class CacheConfigError(CacheError, ValueError):
    """A URL, connection string or option does not describe a usable cache."""


class MissingDriverError(CacheConfigError, ImportError):
    """The backend's driver is not installed: a configuration error that is also an ImportError, so that
    ``except ImportError`` around ``from farm.cache import RedisCache`` catches it too."""

    def __init__(self, message: str, *, driver: str) -> None:
        # ValueError's __init__ comes first in the MRO and leaves ImportError's msg and name unset.
        ImportError.__init__(self, message, name=driver)


class KeyTooLongError(CacheError, ValueError):
    """The key does not fit the backend's key column (the .NET SQL cache would silently truncate it)."""


class InvalidIdentifierError(CacheConfigError):
    """A schema or table name is not a plain SQL identifier."""
