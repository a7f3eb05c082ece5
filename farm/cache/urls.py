"""``from_url``: one string picks and configures a backend, as a connection string does in ASP.NET Core."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlunsplit

from farm.cache.base import DistributedCache
from farm.cache.drivers import load_redis_cache, load_sql_cache
from farm.cache.errors import CacheConfigError
from farm.cache.memory import MemoryCache
from farm.cache.secrets import mask_secrets, split_url
from farm.cache.sql.target import is_sql_url

REDIS_SCHEMES = ("redis", "rediss", "unix")


def from_url(url: str, **options: Any) -> DistributedCache:
    """``memory://``, ``redis://[:password@]host[:port][/db][?instance_name=X]``, ``rediss://...``,
    ``postgresql://``, ``mariadb://``/``mysql://``, ``sqlite:///file.db``, ``mssql://`` or an ODBC
    connection string (``Driver={...};Server=...``). Keyword options go to the backend's constructor.

    A backend's driver is imported only when its scheme is asked for; a missing one raises
    ``MissingDriverError`` naming the pip extra that installs it."""
    if not isinstance(url, str) or not url.strip():
        raise CacheConfigError(f"cache URL must be a non-empty string, not {type(url).__name__}")
    url = url.strip()
    if "://" in url and any(char.isspace() for char in url):
        # Not shown: a password with a space in it would be shown in part (masking ends a URL at whitespace).
        raise CacheConfigError("a cache URL holds no whitespace: percent-encode it (a space is %20)")
    scheme = split_url(url).scheme.lower() if "://" in url else ""
    if scheme == "memory":
        query = _query(url)
        if "size_limit" in query:
            options.setdefault("size_limit", _int_option(url, "size_limit", query["size_limit"]))
        return MemoryCache(**options)
    if scheme in REDIS_SCHEMES:
        query = _query(url)
        if "instance_name" in query:
            options.setdefault("instance_name", query.pop("instance_name"))
            parts = split_url(url)
            url = urlunsplit(parts._replace(query=urlencode(query)))
        return load_redis_cache()(url, **options)
    if is_sql_url(url):
        return load_sql_cache()(url, **options)
    raise CacheConfigError(
        f"unknown cache URL {mask_secrets(url)}: use memory://, redis://, rediss://, postgresql://, "
        "mariadb://, mysql://, sqlite:///, mssql:// or an ODBC connection string"
    )


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(split_url(url).query, keep_blank_values=True))


def _int_option(url: str, name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CacheConfigError(f"{name}={value!r} in {mask_secrets(url)} is not a whole number") from None
