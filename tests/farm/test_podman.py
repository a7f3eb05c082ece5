"""The compose farm on podman runs its containers' healthchecks itself (podman runs none without systemd). These
tests give the podman module an engine that records what it is asked: which engine counts as podman (the version
answers are the ones Podman 4.3 and Docker 20.10 gave on this project's machine), which containers get a check, and
that the checks run while a block waits and stop when it ends. A real podman run is documented in compose/PODMAN.md.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

import pytest

from farm.containers import podman
from farm.containers.podman import (
    check_round,
    driving_health,
    is_podman_version,
    needs_check,
    run_healthcheck,
    setup_hint,
)

PODMAN_4_3 = {
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [{"Name": "Podman Engine"}, {"Name": "Conmon"}, {"Name": "OCI Runtime (runc)"}],
    "Version": "4.3.1",
    "ApiVersion": "1.41",
}
DOCKER_20_10 = {
    "Platform": {"Name": ""},
    "Components": [{"Name": "Engine"}, {"Name": "containerd"}, {"Name": "runc"}, {"Name": "docker-init"}],
    "Version": "20.10.24+dfsg1",
}
DOCKER_CE = {"Platform": {"Name": "Docker Engine - Community"}, "Components": [{"Name": "Engine"}]}
HEALTHCHECK = {"Test": ["CMD-SHELL", "python -m farm.containers.probe http://127.0.0.1:8000/healthz"]}


class FakeContainer:
    def __init__(self, id: str, status: str = "running", health: str | None = "starting", check: bool = True) -> None:
        self.id = id
        self.status = status
        self.attrs: dict[str, Any] = {
            "State": {"Status": status, **({"Health": {"Status": health}} if health else {})},
            "Config": {"Healthcheck": HEALTHCHECK} if check else {},
        }


class Reply:
    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


class FakeEngine:
    """The Docker SDK client's few calls the podman module makes, answered like podman (or Docker) would."""

    def __init__(self, version: dict[str, Any], containers: list[FakeContainer]) -> None:
        self._version = version
        self._containers = containers
        self.checked: list[str] = []
        self.checked_again = threading.Event()
        self.listed: list[Any] = []
        self.replies: dict[str, Reply] = {}
        self.lock = threading.Lock()
        self.api = self
        self.containers = self
        self.base_url = "http+docker://localhost"
        self.api_version = "1.41"

    def version(self) -> dict[str, Any]:
        return self._version

    def list(self, all: bool, filters: dict[str, Any]) -> list[FakeContainer]:
        with self.lock:
            self.listed.append(filters)
        return self._containers

    def get(self, url: str, timeout: float) -> Reply:
        assert url.startswith("http+docker://localhost/v1.41/libpod/containers/"), url
        assert url.endswith("/healthcheck"), url
        container_id = url.split("/")[-2]
        with self.lock:
            self.checked.append(container_id)
            if self.checked.count(container_id) > 1:
                self.checked_again.set()
        reply = self.replies.get(container_id, Reply(200, {"Status": "healthy"}))
        for container in self._containers:
            if container.id == container_id and reply.status_code == 200:
                container.attrs["State"]["Health"] = {"Status": "healthy"}
        return reply


def engine(version: dict[str, Any], *containers: FakeContainer) -> Any:
    return cast(Any, FakeEngine(version, list(containers)))


def test_podman_is_told_from_its_components_and_docker_is_not_podman() -> None:
    assert is_podman_version(PODMAN_4_3)
    assert is_podman_version({"Platform": {"Name": "Podman Engine"}, "Components": []})
    assert not is_podman_version(DOCKER_20_10)
    assert not is_podman_version(DOCKER_CE)
    assert not is_podman_version({})


def test_a_check_is_due_for_a_running_container_with_a_healthcheck_not_yet_healthy() -> None:
    assert needs_check(cast(Any, FakeContainer("a", health="starting")))
    assert needs_check(cast(Any, FakeContainer("a", health="unhealthy")))
    assert not needs_check(cast(Any, FakeContainer("a", health="healthy")))
    assert not needs_check(cast(Any, FakeContainer("a", status="paused")))
    assert not needs_check(cast(Any, FakeContainer("a", status="exited")))
    assert not needs_check(cast(Any, FakeContainer("a", health=None, check=False)))
    disabled = FakeContainer("a")
    disabled.attrs["Config"]["Healthcheck"] = {"Test": ["NONE"]}
    assert not needs_check(cast(Any, disabled))


def test_a_round_checks_only_the_containers_that_need_it() -> None:
    waiting, healthy, stopped = FakeContainer("w"), FakeContainer("h", health="healthy"), FakeContainer("s", "exited")
    client = engine(PODMAN_4_3, waiting, healthy, stopped)
    assert check_round(client, cast(Any, [waiting, healthy, stopped])) == 1
    assert client.checked == ["w"]


def test_a_container_gone_or_stopped_meanwhile_is_no_error(tmp_path: Path) -> None:
    client = engine(PODMAN_4_3, FakeContainer("gone"), FakeContainer("broken"))
    client.replies["gone"] = Reply(404, {"cause": "no such container"})
    client.replies["broken"] = Reply(500, {"cause": "conmon died"})
    assert run_healthcheck(client, "gone") is None
    assert run_healthcheck(client, "fine") == "healthy"
    log = tmp_path / "logs" / podman.HEALTH_LOG
    assert check_round(client, client._containers, log) == 2
    assert log.read_text() == "healthcheck of broken could not run: HTTP 500\n"


def test_podman_gets_a_round_at_once_then_rounds_until_the_block_ends(tmp_path: Path) -> None:
    node = FakeContainer("node-1")
    client = engine(PODMAN_4_3, node)
    with driving_health(client, "proj", tmp_path / "health.log"):
        assert client.checked == ["node-1"], "the first round runs before the block"
        assert client.listed[0] == {"label": ["com.docker.compose.project=proj"]}
        with driving_health(client, "proj"):  # nested: no second driver, no second first round
            assert client.checked == ["node-1"]
        node.attrs["State"]["Health"] = {"Status": "starting"}  # as after a restart
        assert client.checked_again.wait(30), "no later round checked the restarted container"
    assert podman._driven == set(), "the project is still marked as driven"
    assert not [t for t in threading.enumerate() if t.name == "podman-health-proj"], "the driver outlived its block"


def test_the_docker_engine_is_left_to_run_its_own_healthchecks() -> None:
    client = engine(DOCKER_20_10, FakeContainer("node-1"))
    with driving_health(client, "proj"):
        pass
    assert client.checked == []
    assert client.listed == []


@pytest.mark.parametrize("version", [PODMAN_4_3, DOCKER_20_10])
def test_the_engine_is_asked_its_version_once_per_client(version: dict[str, Any]) -> None:
    client = engine(version)
    calls = []

    def version_asked() -> dict[str, Any]:
        calls.append(1)
        return version

    client.version = version_asked
    for _ in range(3):
        with driving_health(client, "proj"):
            pass
    assert calls == [1]


def test_podman_set_up_without_the_workarounds_gets_told_what_to_change() -> None:
    rlimit = (
        "ERROR: for redis  Cannot start service redis: runc: runc create failed: unable to start container process: "
        "error during container init: error setting rlimits for ready process: error setting rlimit type 7: "
        "operation not permitted: OCI permission denied"
    )
    hint = setup_hint(rlimit)
    assert hint is not None
    assert "default_ulimits = []" in hint
    assert "/etc/containers/containers.conf" in hint
    assert setup_hint("Error response from daemon: driver failed programming external connectivity") is None
