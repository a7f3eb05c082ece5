"""The container engine the compose farm runs on: Docker Engine, or podman through its Docker-compatible socket
(``DOCKER_HOST``). Every call has a timeout: a container cut off from its network can hang a published port."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from farm.errors import FarmError

if TYPE_CHECKING:
    import docker

ENGINE_TIMEOUT_S = 60
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class EngineError(FarmError):
    """No container engine to run the compose farm on (none installed, none answering)."""


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect() -> docker.DockerClient:
    """A client of the engine that answers now, or an ``EngineError`` that says how to get one."""
    try:
        import docker
    except ImportError:
        raise EngineError("the Docker SDK is not installed: pip install 'cachefarm[farm]'") from None
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT_S)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineError(no_engine_message(str(exc))) from None
    return client


def no_engine_message(reason: str) -> str:
    where = engine_address()
    if not any(shutil.which(program) for program in ("dockerd", "podman")) and "DOCKER_HOST" not in os.environ:
        return (
            "no container engine is installed: install Docker Engine (on Debian: `sudo apt-get install docker.io "
            "docker-compose`) or podman, or set DOCKER_HOST to an engine that runs elsewhere"
        )
    reason = reason.splitlines()[0] if reason else "no answer"
    return (
        f"no container engine answers at {where} ({reason[:200]}): start one (`farm engine start` as root; "
        "`farm engine stop` stops it), or set DOCKER_HOST to one that runs (podman: see compose/PODMAN.md)"
    )
