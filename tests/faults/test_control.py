"""The control API: what it lists, the errors it gives, links added and removed at run time, and the CLI."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from farm.ports import free_port, port_open
from tests.faults.conftest import TOKEN, Echo, FaultProxy

LINK = "node-1/echo"


async def test_every_call_needs_the_token(proxy: FaultProxy) -> None:
    for method, path in (("GET", "/links"), ("GET", "/faults"), ("POST", "/faults"), ("DELETE", "/faults")):
        status, _reply = await proxy.call(method, path, token="wrong")
        assert status == 401, (method, path)
    assert proxy.table.faults == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "flood", "links": [LINK]}, "kind='flood'"),
        ({"kind": "partition", "links": []}, "links"),
        ({"kind": "latency", "links": [LINK]}, "latency needs ms"),
        ({"kind": "latency", "links": [LINK], "ms": -5}, "ms=-5"),
        ({"kind": "latency", "links": [LINK], "ms": 10, "jitter_ms": 20}, "jitter_ms=20 is more than ms=10"),
        ({"kind": "partition", "links": [LINK], "ms": 10}, "belong to latency"),
        ({"kind": "partition", "links": [LINK], "duration_s": "soon"}, "duration_s='soon'"),
        ({"kind": "partition", "links": [LINK], "duration_s": 0}, "duration_s=0"),
        ({"kind": "partition", "links": [LINK], "nodes": ["node-1"]}, "unknown field(s) nodes"),
    ],
)
async def test_a_bad_fault_is_refused_with_400_naming_the_field(
    proxy: FaultProxy, body: dict[str, object], message: str
) -> None:
    status, reply = await proxy.call("POST", "/faults", body)
    assert status == 400
    assert message in str(reply["error"])
    assert proxy.table.faults == {}


async def test_unknown_links_and_faults_are_404(proxy: FaultProxy) -> None:
    status, reply = await proxy.call("POST", "/faults", {"kind": "partition", "links": [LINK, "node-9/cache"]})
    assert (status, reply["error"]) == (404, f"no link named node-9/cache (links: {LINK})")
    assert proxy.table.links[LINK].flowing.is_set()  # nothing half-applied
    assert (await proxy.call("DELETE", "/faults/f99"))[0] == 404
    assert (await proxy.call("DELETE", "/faults?links=node-9/cache"))[0] == 404
    assert (await proxy.call("DELETE", "/links/node-9/cache"))[0] == 404


async def test_faults_are_listed_with_links_kind_parameters_and_times(proxy: FaultProxy) -> None:
    before = time.time()
    await proxy.fault(kind="latency", links=[LINK], ms=30, jitter_ms=5, duration_s=60)
    _status, listed = await proxy.call("GET", "/faults")
    (fault,) = listed["faults"]
    assert fault["kind"] == "latency"
    assert fault["links"] == [LINK]
    assert fault["parameters"] == {"ms": 30, "jitter_ms": 5}
    assert before <= fault["started"] <= time.time()
    assert fault["ends_at"] == pytest.approx(fault["started"] + 60)


async def test_heal_by_link_leaves_the_fault_on_its_other_links(proxy: FaultProxy, echo: Echo) -> None:
    status, _ = await proxy.call(
        "POST",
        "/links",
        {"name": "node-2/echo", "listen_port": 0, "target_host": "127.0.0.1", "target_port": echo.port},
    )
    assert status == 201
    fault = await proxy.fault(kind="partition", links=[LINK, "node-2/echo"])
    status, healed = await proxy.call("DELETE", f"/faults?links={LINK}")
    assert healed["healed"] == [{**fault, "links": [LINK]}]
    _, listed = await proxy.call("GET", "/faults")
    assert [f["links"] for f in listed["faults"]] == [["node-2/echo"]]
    assert proxy.table.links[LINK].flowing.is_set()
    assert not proxy.table.links["node-2/echo"].flowing.is_set()
    _, healed = await proxy.call("DELETE", "/faults")
    assert len(healed["healed"]) == 1
    assert proxy.table.links["node-2/echo"].flowing.is_set()


async def test_links_come_and_go_at_run_time(proxy: FaultProxy, echo: Echo) -> None:
    body = {"name": "node-2/echo", "listen_port": 0, "target_host": "127.0.0.1", "target_port": echo.port}
    status, link = await proxy.call("POST", "/links", body)
    assert status == 201
    assert (await proxy.call("POST", "/links", body))[0] == 409
    assert (await proxy.call("POST", "/links", {**body, "name": "x", "target_port": "6379"}))[0] == 400
    reader, writer = await asyncio.open_connection("127.0.0.1", link["listen_port"])
    writer.write(b"hi")
    assert await asyncio.wait_for(reader.readexactly(2), 5) == b"hi"
    await proxy.fault(kind="partition", links=["node-2/echo"])
    status, _ = await proxy.call("DELETE", "/links/node-2/echo")
    assert status == 200
    with pytest.raises(ConnectionResetError):  # its connections are cut
        await asyncio.wait_for(reader.read(), 5)
    assert not port_open("127.0.0.1", int(link["listen_port"]))
    _, listed = await proxy.call("GET", "/faults")
    assert listed == {"faults": []}
    _, links = await proxy.call("GET", "/links")
    assert [item["name"] for item in links["links"]] == [LINK]


def test_the_command_line_needs_a_token_and_well_formed_links() -> None:
    run = [sys.executable, "-m", "faults", "--control-port", "1"]
    env = {k: v for k, v in os.environ.items() if k != "FARM_FAULTS_TOKEN"}
    no_token = subprocess.run(run, capture_output=True, text=True, env=env, timeout=30, check=False)
    assert no_token.returncode == 2
    assert "set FARM_FAULTS_TOKEN" in no_token.stderr
    bad = subprocess.run(
        [*run, "--link", "a=1:b"], capture_output=True, text=True, env={**env, "FARM_FAULTS_TOKEN": "t"}, timeout=30
    )
    assert bad.returncode == 2
    assert "NAME=LISTEN_PORT:TARGET_HOST:TARGET_PORT" in bad.stderr


def test_the_command_line_serves_its_links_and_control_api() -> None:
    control, listen = free_port(), free_port()
    # A target that accepts: a link whose target refuses resets its client, which may reach the client's connect.
    target = socket.create_server(("127.0.0.1", 0))
    env = {**os.environ, "FARM_FAULTS_TOKEN": TOKEN}
    command = [
        sys.executable,
        "-m",
        "faults",
        "--control-port",
        str(control),
        "--link",
        f"node-1/cache={listen}:127.0.0.1:{target.getsockname()[1]}",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", control):
            assert time.monotonic() < deadline, "the fault proxy did not start"
            time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{control}/links", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert b'"listen_port": ' + str(listen).encode() in reply.read()
        socket.create_connection(("127.0.0.1", listen), timeout=5).close()  # the link listens
    finally:
        process.terminate()
        target.close()
        assert process.wait(timeout=10) == 0
    assert not port_open("127.0.0.1", listen)
