"""A private redis-server that keeps nothing on disk."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import redis

from farm.testing.servers.process import ServerProcess, free_port, require_executable


def start_redis(*, port: int | None = None, extra_config: list[str] | None = None) -> ServerProcess:
    executable = require_executable("redis-server", "redis-server")
    directory = Path(tempfile.mkdtemp(prefix="cachefarm-redis-"))
    port = port or free_port()
    log_path = directory / "redis.log"
    args = [
        executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(directory), "--logfile", str(log_path), *(extra_config or []),
    ]  # fmt: skip
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    server = ServerProcess("redis-server", "127.0.0.1", port, url, process, directory, log_path)

    def ping() -> bool:
        try:
            with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2) as client:
                return bool(client.ping())
        except (redis.ResponseError, redis.AuthenticationError):
            return True  # it answered, with "authentication required": up, and protected
        except redis.RedisError:
            return False

    server.wait_until_ready(ping)
    return server
