"""A private redis-server that keeps nothing on disk."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from pathlib import Path

from farm.ports import free_port
from farm.testing.servers.process import ServerProcess, require_executable


def start_redis(*, port: int | None = None, extra_config: list[str] | None = None) -> ServerProcess:
    executable = require_executable("redis-server", "redis-server")
    directory = Path(tempfile.mkdtemp(prefix="cachefarm-redis-"))
    port = port or free_port()
    log_path = directory / "redis.log"
    args = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(directory), "--logfile", str(log_path), *(extra_config or [])]
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    server = ServerProcess("redis-server", "127.0.0.1", port, url, process, directory, log_path)

    def ping() -> bool:
        """The protocol's own PING over a socket: the servers' helpers need no Redis client installed."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                answer = sock.recv(64)
        except OSError:
            return False
        return answer.startswith((b"+PONG", b"-NOAUTH"))  # NOAUTH: up, and protected by a password

    server.wait_until_ready(ping)
    return server
