"""What the compose farm does differently on podman (reached through its Docker-compatible socket, ``DOCKER_HOST``).

Podman runs a container's healthcheck from a systemd timer; without systemd no check ever runs, the health stays
``starting`` and compose's ``depends_on: service_healthy`` waits forever. So while the farm waits on health (a
compose command, a wait for healthy containers, a status), it runs the checks itself through podman's own API
(``GET /libpod/containers/{id}/healthcheck``), once at once and then every ``HEALTH_INTERVAL_S`` in the
background, for each running container whose health is not yet ``healthy``. On the Docker Engine nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar
from urllib.parse import quote

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

HEALTH_INTERVAL_S = 1.0
"""As compose.yaml's healthcheck interval."""
PARALLEL_CHECKS = 4
CHECK_TIMEOUT_S = 30
"""Longer than compose.yaml's healthcheck timeout: podman answers once the check has run."""
HEALTH_LOG = "podman-health.log"
"""In the farm's logs/: healthchecks the engine could not run (not their failures, which it records itself)."""
PROJECT_LABEL = "com.docker.compose.project"

HINTS = {
    "error setting rlimit": (
        "podman cannot apply its default ulimits here: add `default_ulimits = []` under [containers] in "
        "/etc/containers/containers.conf, then restart `podman system service` (compose/PODMAN.md)"
    ),
    "container-init binary not found": (
        "podman needs catatonit for `init: true`: `sudo apt-get install catatonit` (compose/PODMAN.md)"
    ),
}
"""What to do about the errors podman gives when it is not set up as compose/PODMAN.md says."""

_podman: weakref.WeakKeyDictionary[docker.DockerClient, bool] = weakref.WeakKeyDictionary()
_driven: set[tuple[int, str]] = set()
_driven_lock = threading.Lock()


def is_podman_version(version: dict[str, Any]) -> bool:
    """Podman names itself in its components (``Podman Engine``) and, in newer releases, its platform."""
    names = [str(component.get("Name", "")) for component in version.get("Components") or []]
    names.append(str((version.get("Platform") or {}).get("Name", "")))
    return any("podman" in name.lower() for name in names)


def is_podman(client: docker.DockerClient) -> bool:
    """Asked once per client."""
    if client not in _podman:
        _podman[client] = is_podman_version(client.version())
    return _podman[client]


def setup_hint(output: str) -> str | None:
    """What to change in podman's setup, when a compose command's output shows a known podman error."""
    hints = [hint for pattern, hint in HINTS.items() if pattern in output]
    return "\n".join(hints) or None


def needs_check(container: Container) -> bool:
    """Running, with a healthcheck, and not yet found healthy."""
    state = container.attrs.get("State") or {}
    test = ((container.attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return False
    running = container.status == "running" or state.get("Status") == "running"
    return running and (state.get("Health") or {}).get("Status") != "healthy"


def run_healthcheck(client: docker.DockerClient, container_id: str) -> str | None:
    """Runs the container's healthcheck now: its health afterwards, or None when it is gone or not running."""
    api = client.api
    path = f"/v{api.api_version}/libpod/containers/{quote(container_id, safe='')}/healthcheck"
    reply = api.get(api.base_url + path, timeout=CHECK_TIMEOUT_S)
    if reply.status_code in (404, 409):  # removed, or stopped meanwhile
        return None
    reply.raise_for_status()
    return str(reply.json().get("Status"))


def check_round(client: docker.DockerClient, containers: Iterable[Container], log: Path | None = None) -> int:
    """One healthcheck for each container that needs one, in parallel; returns how many ran."""
    due = [container.id for container in containers if needs_check(container)]
    if not due:
        return 0

    def check(container_id: str | None) -> None:
        try:
            run_healthcheck(client, str(container_id))
        except Exception as exc:  # the next round tries again; the wait that needs it says what is late
            if log is not None:
                log.parent.mkdir(parents=True, exist_ok=True)
                with log.open("a") as out:
                    out.write(f"healthcheck of {container_id} could not run: {exc}\n")

    with ThreadPoolExecutor(min(PARALLEL_CHECKS, len(due))) as pool:
        list(pool.map(check, due))
    return len(due)


@contextmanager
def driving_health(client: docker.DockerClient, project: str, log: Path | None = None) -> Iterator[None]:
    """On podman: one round of the project's healthchecks now, then a round every interval until the block ends.
    A block inside another of the same project adds nothing (one driver per project)."""
    key = (id(client), project)
    with _driven_lock:
        nested = key in _driven
        if not nested:
            _driven.add(key)
    try:
        if nested or not is_podman(client):
            yield
        else:
            with _driver(client, project, log):
                yield
    finally:
        if not nested:
            with _driven_lock:
                _driven.discard(key)


@contextmanager
def _driver(client: docker.DockerClient, project: str, log: Path | None) -> Iterator[None]:
    """The rounds themselves: the first before the block, the others from a thread stopped when it ends."""

    def project_round() -> None:
        containers = client.containers.list(all=True, filters={"label": [f"{PROJECT_LABEL}={project}"]})
        check_round(client, containers, log)

    with contextlib.suppress(Exception):  # the engine not answering is the block's own error to report
        project_round()
    stop = threading.Event()

    def drive() -> None:
        while not stop.wait(HEALTH_INTERVAL_S):
            try:
                project_round()
            except Exception as exc:
                if log is not None:
                    with log.open("a") as out:
                        out.write(f"listing the containers of {project} failed: {exc}\n")

    driver = threading.Thread(target=drive, name=f"podman-health-{project}", daemon=True)
    driver.start()
    try:
        yield
    finally:
        stop.set()
        driver.join()


class _ComposeProject(Protocol):
    run: Path
    project: str

    @property
    def client(self) -> docker.DockerClient: ...


S = TypeVar("S", bound=_ComposeProject)
P = ParamSpec("P")
R = TypeVar("R")


def drives_health(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A farm method that waits on (or reports) health runs inside ``driving_health`` of its project."""

    @functools.wraps(method)
    def wrapper(farm: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with driving_health(farm.client, farm.project, farm.run / "logs" / HEALTH_LOG):
            return method(farm, *args, **kwargs)

    return wrapper
