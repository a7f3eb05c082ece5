"""The farm's own cache server (a redis-server or a PostgreSQL cluster): its program under supervisord, when it
answers, what it needs before the nodes use it, and how it forgets everything when the farm keeps no data."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from farm.cache import from_url
from farm.health import redis_ok
from farm.ports import port_open
from farm.servers import postgres
from farm.state import FarmState
from farm.supervise import Program

CACHE_TABLE = "DistributedCache"
"""The SQL cache table of a farm's own PostgreSQL, as the ASP.NET Core sample names it."""


class CacheServer(ABC):
    name: ClassVar[str]
    """Its program's name under supervisord."""

    def __init__(self, state: FarmState, run: Path) -> None:
        self.state = state
        self.run = run

    @abstractmethod
    def program(self) -> Program: ...

    @abstractmethod
    def ready(self) -> bool:
        """It takes requests (a server that is loading its data does not yet)."""

    @abstractmethod
    def prepare_files(self) -> None:
        """Once, when the farm comes up, before the server starts."""

    @abstractmethod
    def prepare_data(self) -> None:
        """Once, when the farm comes up, after the server answers and before any node starts."""

    @abstractmethod
    def forget(self) -> None:
        """Empties the cache: a farm without persistence starts every run of its server empty."""

    @abstractmethod
    def remove_files(self) -> None:
        """Once the farm is down: files it keeps outside the run directory."""


class RedisServer(CacheServer):
    name: ClassVar[str] = "redis"

    @property
    def directory(self) -> Path:
        return self.run / "redis"

    def program(self) -> Program:
        port = self.state.redis_port
        command = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--dir", str(self.directory)]
        if self.state.cache_persistence:
            # As a production Redis: every write in the append-only file, flushed each second and at shutdown.
            command += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            command += ["--appendonly", "no"]
        return Program(self.name, command, priority=100)

    def ready(self) -> bool:
        return redis_ok(self.state.redis_port or 0)

    def prepare_files(self) -> None:
        # A farm brought up again in the same folder starts empty, not with the last farm's data.
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)

    def prepare_data(self) -> None:
        """Nothing to prepare: a redis-server takes keys as they come."""

    def forget(self) -> None:
        """Nothing to do: without its append-only file, a redis-server starts empty."""

    def remove_files(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer(CacheServer):
    name: ClassVar[str] = "postgres"

    @property
    def directory(self) -> Path:
        if self.state.postgres_dir is None:
            raise ValueError("a farm's PostgreSQL needs its folder in the state")
        return Path(self.state.postgres_dir)

    def program(self) -> Program:
        owner = postgres.server_user()
        command = postgres.server_command(self.directory / "data", self.state.postgres_port or 0, self.directory)
        # SIGINT is PostgreSQL's fast shutdown: it ends the clients' sessions instead of waiting for them.
        return Program(
            self.name,
            command,
            priority=100,
            stop_signal="INT",
            user=None if owner is None else owner.pw_name,
            directory=self.directory,
        )

    def ready(self) -> bool:
        port = self.state.postgres_port or 0
        return port_open("127.0.0.1", port) and postgres.accepts(port)

    def prepare_files(self) -> None:
        postgres.new_cluster(self.directory / "data", postgres.server_user())

    def prepare_data(self) -> None:
        with from_url(self.state.cache_url or "") as sql:
            sql.create_table(if_not_exists=True)  # type: ignore[attr-defined]

    def forget(self) -> None:
        with from_url(self.state.cache_url or "") as sql:
            sql.drop_table(if_exists=True)  # type: ignore[attr-defined]
            sql.create_table(if_not_exists=False)  # type: ignore[attr-defined]

    def remove_files(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def cache_server(state: FarmState, run: Path) -> CacheServer | None:
    """The farm's own cache server, or None when its cache is not one (memory, a user's server, SQLite)."""
    if state.redis_port is not None:
        return RedisServer(state, run)
    if state.postgres_port is not None:
        return PostgresServer(state, run)
    return None
