"""A private MariaDB server in a temporary directory; root connects over TCP without a password."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from farm.ports import free_port, port_open
from farm.testing.servers.process import ServerError, ServerProcess, require_executable

DATABASE = "cachefarm"


def start_mariadb(*, port: int | None = None) -> ServerProcess:
    install_db = require_executable("mariadb-install-db", "mariadb-server")
    server_bin = require_executable("/usr/sbin/mariadbd", "mariadb-server")
    client = require_executable("mariadb", "mariadb-client")
    directory = Path(tempfile.mkdtemp(prefix="cachefarm-mariadb-"))
    data = directory / "data"
    user = ["--user=root"] if os.geteuid() == 0 else []
    setup = [install_db, "--no-defaults", f"--datadir={data}", *user, "--auth-root-authentication-method=normal"]
    setup += ["--skip-test-db", "--skip-name-resolve"]
    init = subprocess.run(setup, capture_output=True, text=True, check=False)
    if init.returncode != 0:
        raise ServerError(f"mariadb-install-db failed ({init.returncode}): {init.stderr.strip()[-2000:]}")
    port = port or free_port()
    socket_path = directory / "mariadb.sock"
    log_path = directory / "mariadb.log"
    args = [server_bin, "--no-defaults", f"--datadir={data}", f"--socket={socket_path}", f"--port={port}", *user]
    args += ["--bind-address=127.0.0.1", f"--log-error={log_path}", f"--pid-file={directory / 'mariadb.pid'}"]
    args += ["--skip-name-resolve", "--skip-log-bin", "--max-connections=200"]
    args += ["--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=128M"]
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"mariadb://root@127.0.0.1:{port}/{DATABASE}"
    server = ServerProcess("mariadbd", "127.0.0.1", port, url, process, directory, log_path)
    server.wait_until_ready(lambda: port_open("127.0.0.1", port) and socket_path.exists(), timeout=60)
    created = subprocess.run(
        [client, "--no-defaults", f"--socket={socket_path}", "-uroot", "-e", f"CREATE DATABASE {DATABASE}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode != 0:
        server.stop()
        raise ServerError(f"could not create database {DATABASE}: {created.stderr.strip()}")
    return server
