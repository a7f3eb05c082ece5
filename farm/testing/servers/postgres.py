"""A private PostgreSQL cluster in a temporary directory, run as the postgres user when we are root."""

from __future__ import annotations

import glob
import os
import pwd
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from farm.ports import free_port, port_open
from farm.testing.servers.process import ServerError, ServerProcess


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServerError(f"{name} not found under /usr/lib/postgresql: install the Debian package postgresql")
    return found[-1]


def _server_user() -> pwd.struct_passwd | None:
    """initdb refuses to run as root, so root runs the server as the postgres user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServerError("running as root needs the postgres user: install the Debian package postgresql") from None


def start_postgres(*, port: int | None = None) -> ServerProcess:
    owner = _server_user()
    # The server runs as that user itself (not under runuser), so that signals reach it.
    as_owner: dict[str, Any] = {} if owner is None else {"user": owner.pw_uid, "group": owner.pw_gid}
    directory = Path(tempfile.mkdtemp(prefix="cachefarm-pg-"))
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    data = directory / "data"
    log_path = directory / "postgres.log"
    init = subprocess.run(
        [_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        check=False,
        cwd=directory,
        **as_owner,
    )
    if init.returncode != 0:
        raise ServerError(f"initdb failed ({init.returncode}): {init.stderr.strip()}")
    port = port or free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(directory),
        "max_connections": "100",
        "fsync": "off",
        "full_page_writes": "off",
        "log_destination": "stderr",
    }
    options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [_bin("postgres"), "-D", str(data), "-p", str(port), *options],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            **as_owner,
        )
    # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    server = ServerProcess("postgres", "127.0.0.1", port, url, process, directory, log_path, signal.SIGINT)
    server.wait_until_ready(lambda: port_open("127.0.0.1", port) and _accepts(port))
    return server


def _accepts(port: int) -> bool:
    ready = subprocess.run(
        [_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)], capture_output=True, check=False
    )
    return ready.returncode == 0
