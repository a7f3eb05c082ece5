"""Which cache a farm uses: environments as in the ASP.NET Core sample, overridden by --cache, with secrets
taken from environment variables or a git-ignored secrets file, never from tracked files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from farm.cache import mask_secrets
from farm.errors import FarmError

ENV_VARIABLE = "FARM_ENV"
SECRETS_FILE = "secrets.env"
REDIS_URL_VARIABLE = "FARM_REDIS_URL"
SQL_URL_VARIABLE = "FARM_SQL_URL"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


DEFAULT_CACHE = {Environment.DEVELOPMENT: "memory", Environment.STAGING: "redis", Environment.PRODUCTION: "sql"}
CACHE_KINDS = ("none", "memory", "redis", "sql", "sqlite")
"""Without a URL: ``redis`` is a private redis-server, ``sql`` a private PostgreSQL, ``sqlite`` a SQLite file."""
WRITE_POLICIES = ("strict", "available")
"""How nodes write while their cache cannot be reached: ``strict`` refuses the write (503, nothing written), so
that no read can return an older version after an acknowledged write; ``available`` writes the source store and
owes the cache an invalidation, so reads may be stale until the cache answers again."""
SHARED_CACHES = ("redis", "sql", "sqlite")
CACHE_VARIANTS = (*CACHE_KINDS, *(f"{kind}/available" for kind in SHARED_CACHES))
"""What a scenario's ``caches`` and ``farm run --cache`` may name: a cache kind (strict writes), or a shared cache
with ``/available`` for the available write policy."""


@dataclass(frozen=True)
class CacheChoice:
    """``kind`` is one of ``CACHE_KINDS``; ``url`` is None when the farm starts a private server or file."""

    kind: str
    url: str | None
    write_policy: str = WRITE_POLICIES[0]

    @property
    def name(self) -> str:
        """What results, reports and ``expected_to_fail`` call this run: the kind, and the policy if not strict."""
        return self.kind if self.write_policy == WRITE_POLICIES[0] else f"{self.kind}/{self.write_policy}"

    def describe(self) -> str:
        return f"{self.name} ({mask_secrets(self.url)})" if self.url else self.name


def read_secrets(*folders: Path) -> dict[str, str]:
    """KEY=VALUE lines of ``secrets.env`` in the given folders; environment variables win over them."""
    found: dict[str, str] = {}
    for folder in folders:
        path = folder / SECRETS_FILE
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise FarmError(f"{path}:{number}: expected KEY=VALUE, got {mask_secrets(line)!r}")
            found[key.strip()] = value.strip().strip('"')
    return {**found, **{k: v for k, v in os.environ.items() if k.startswith("FARM_")}}


def choose_cache(cache: str | None, env: str | None, secrets: Mapping[str, str]) -> CacheChoice:
    env_name = env or secrets.get(ENV_VARIABLE) or Environment.DEVELOPMENT.value
    try:
        environment = Environment(env_name)
    except ValueError:
        raise FarmError(f"unknown environment {env_name!r}: use {', '.join(e.value for e in Environment)}") from None
    kind = cache or DEFAULT_CACHE[environment]
    if "://" in kind or "=" in kind:
        scheme = kind.split("://", 1)[0].lower() if "://" in kind else ""
        kind_of_url = "memory" if scheme == "memory" else "redis" if scheme.startswith("redis") else "sql"
        return CacheChoice(kind_of_url, _url_without_whitespace(kind, "--cache"))
    if kind not in CACHE_VARIANTS:
        raise FarmError(f"unknown cache {kind!r}: use {', '.join(CACHE_VARIANTS)} or a cache URL")
    kind, _, policy = kind.partition("/")
    policy = policy or WRITE_POLICIES[0]
    variable = {"redis": REDIS_URL_VARIABLE, "sql": SQL_URL_VARIABLE}.get(kind)
    url = _url_without_whitespace(secrets.get(variable), variable) if variable else None
    return CacheChoice(kind, url, policy)


def _url_without_whitespace(url: str | None, where: str) -> str | None:
    """Masking ends a URL at whitespace, so a URL with a space in its password would be shown in part: refused
    before anything prints it (an ODBC connection string may hold spaces: its values are masked to the ';')."""
    url = url.strip() if url is not None else None
    if url is not None and "://" in url and any(char.isspace() for char in url):
        raise FarmError(f"the cache URL of {where} holds whitespace: percent-encode it (a space is %20)")
    return url
