"""What Docker and podman do differently, on the engine that answers (CI: Docker; podman: compose/PODMAN.md):
a replica names itself from its container's name, which the two engines tell it in different places, and a
container's health comes back after a restart, which podman reports only when the farm runs the check."""

from __future__ import annotations

import time
import urllib.request

import pytest

from farm.errors import FarmError
from tests.compose.conftest import ComposeFarmUp

HEALTH_BACK_TIMEOUT_S = 60.0


def served_by(url: str) -> str:
    with urllib.request.urlopen(url + "/", timeout=10) as reply:
        return str(reply.headers["X-Node"])


def node_states(up: ComposeFarmUp) -> dict[str, str]:
    return {node["name"]: node["state"] for node in up.farm.status()["nodes"]}


def wait_all_running(up: ComposeFarmUp) -> dict[str, str]:
    """Until status says every node is running (not ``starting``): polled, since Docker checks every second."""
    deadline = time.monotonic() + HEALTH_BACK_TIMEOUT_S
    while True:
        states = node_states(up)
        if set(states.values()) == {"running"}:
            return states
        if time.monotonic() > deadline:
            raise FarmError(f"the nodes' health did not come back in {HEALTH_BACK_TIMEOUT_S:.0f} s: {states}")
        time.sleep(0.5)


@pytest.mark.parametrize("compose_farm", [{"nodes": 2, "cache": "none"}], indirect=True)
def test_replicas_name_themselves_by_container_number_and_their_health_comes_back(compose_farm: ComposeFarmUp) -> None:
    up = compose_farm
    assert {name: served_by(up.state.node_url(name)) for name in up.state.nodes} == {
        "node-1": "node-1",
        "node-2": "node-2",
    }
    added, state = up.farm.add_node()
    assert (added, served_by(state.node_url(added))) == ("node-3", "node-3")

    up.farm.restart_nodes(["node-2"], rolling=False)
    assert wait_all_running(up) == {"node-1": "running", "node-2": "running", "node-3": "running"}
