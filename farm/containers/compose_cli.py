"""Running the compose command: ``docker compose`` (v2) where it exists, else ``docker-compose`` (v1).

The compose file is written for both; containers are then found by their compose labels, which both set the same
way (their names differ: ``proj-node-1`` against ``proj_node_1``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from farm.containers.engine import EngineError
from farm.containers.podman import setup_hint
from farm.errors import FarmError

COMPOSE_TIMEOUT_S = 300
LOG_LINES = 20


class ComposeError(FarmError):
    """A compose command failed; the message ends with the last lines it printed."""


@cache
def compose_command() -> tuple[str, ...]:
    """The compose program: v2 as a docker plugin, or the v1 program."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False, timeout=30)
        if probe.returncode == 0:
            return (docker, "compose")
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return (legacy,)
    raise EngineError(
        "neither `docker compose` (Compose v2) nor `docker-compose` (v1) is installed: install the compose plugin, "
        "or on Debian `sudo apt-get install docker-compose`"
    )


def last_lines(text: str, count: int = LOG_LINES) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join("    " + line for line in lines[-count:])


def run_compose(
    compose_file: Path,
    project: str,
    arguments: Sequence[str],
    *,
    environment: Mapping[str, str],
    profiles: Sequence[str] = (),
    log: Path | None = None,
    what: str,
) -> str:
    """Runs one compose command; its output goes to ``log`` (appended) and is returned."""
    command = [*compose_command(), "-f", str(compose_file), "-p", project]
    for profile in profiles:
        command += ["--profile", profile]
    command += list(arguments)
    try:
        done = subprocess.run(
            command,
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            check=False,
            timeout=COMPOSE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ComposeError(f"{what}: `{' '.join(command[1:])}` took more than {COMPOSE_TIMEOUT_S} s") from None
    output = done.stdout + done.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.write(f"$ {' '.join(command)}\n{output}\n")
    if done.returncode != 0:
        hint = setup_hint(output)  # podman not set up as compose/PODMAN.md says
        said = f"{what} failed (exit {done.returncode}):\n{last_lines(output)}"
        raise ComposeError(f"{said}\n{hint}" if hint else said)
    return output
