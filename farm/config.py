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


@dataclass(frozen=True)
class CacheChoice:
    """``kind`` is one of ``CACHE_KINDS``; ``url`` is None when the farm starts a private server or file."""

    kind: str
    url: str | None

    def describe(self) -> str:
        return f"{self.kind} ({mask_secrets(self.url)})" if self.url else self.kind


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
        return CacheChoice("memory" if scheme == "memory" else "redis" if scheme.startswith("redis") else "sql", kind)
    if kind not in CACHE_KINDS:
        raise FarmError(f"unknown cache {kind!r}: use {', '.join(CACHE_KINDS)} or a cache URL")
    if kind == "redis":
        return CacheChoice("redis", secrets.get(REDIS_URL_VARIABLE))
    if kind == "sql":
        return CacheChoice("sql", secrets.get(SQL_URL_VARIABLE))
    return CacheChoice(kind, None)
