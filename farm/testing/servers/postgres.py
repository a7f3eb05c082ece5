"""A private PostgreSQL cluster in a temporary directory, run as the postgres user when we are root."""

from __future__ import annotations

import signal
import subprocess

from farm.ports import free_port, port_open
from farm.servers.postgres import (
    accepts,
    as_owner,
    cache_url,
    new_cluster,
    owned_directory,
    server_command,
    server_user,
)
from farm.testing.servers.process import ServerProcess


def start_postgres(*, port: int | None = None) -> ServerProcess:
    owner = server_user()
    directory = owned_directory("cachefarm-pg-", owner)
    data = directory / "data"
    log_path = directory / "postgres.log"
    new_cluster(data, owner)
    port = port or free_port()
    with open(log_path, "wb") as log:
        # The server runs as that user itself (not under runuser), so that signals reach it.
        process = subprocess.Popen(
            server_command(data, port, directory),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            **as_owner(owner),
        )
    # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
    server = ServerProcess("postgres", "127.0.0.1", port, cache_url(port), process, directory, log_path, signal.SIGINT)
    server.wait_until_ready(lambda: port_open("127.0.0.1", port) and accepts(port))
    return server
