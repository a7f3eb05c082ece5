"""The engine the project starts when none answers: a PRIVATE second dockerd (its own socket, data root, exec root,
pid file and bridge, no iptables), so that the machine's engine, which others use, is never stopped or changed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from farm.containers.engine import DEFAULT_SOCKET, EngineError
from farm.containers.owned_engine import (
    EngineSetup,
    HostNetwork,
    answers,
    is_running,
    owner_of,
    pid_in,
    restore_plan,
    start_engine,
    stop_engine,
)


@pytest.fixture
def private(tmp_path: Path) -> Iterator[EngineSetup]:
    """A private engine's places; its sockets under a short folder (a unix socket's path has at most 107 bytes)."""
    short = Path(tempfile.mkdtemp(prefix="cf-engine-", dir="/tmp"))
    setup = EngineSetup(
        socket=short / "d.sock",
        data_root=tmp_path / "data",
        exec_root=short / "exec",
        pid_file=short / "d.pid",
        log=tmp_path / "dockerd.log",
        private_network=True,
    )
    try:
        yield setup
    finally:
        pid = pid_in(setup.pid_file)
        if pid is not None and is_running(pid) and setup.owner_file.exists():
            stop_engine(setup)  # a test that failed halfway leaves no engine behind
        shutil.rmtree(short, ignore_errors=True)


def finished_pid() -> int:
    done = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_private_engine_starts_over_a_stale_pid_file_and_stops(private: EngineSetup) -> None:
    machine_answered = answers(DEFAULT_SOCKET)
    host_before = HostNetwork.now()
    private.pid_file.write_text(f"{finished_pid()}\n")  # left by an engine that died

    owner = start_engine(private)
    assert answers(private.host)
    assert pid_in(private.pid_file) == owner.pid
    found = owner_of(private)
    assert found is not None
    assert found.pid == owner.pid
    assert private.bridge is not None
    assert Path("/sys/class/net", private.bridge).exists()
    client = docker.DockerClient(base_url=private.host, timeout=10)
    assert client.info()["DockerRootDir"] == str(private.data_root)
    client.close()

    assert stop_engine(private) == owner.pid
    assert not is_running(owner.pid)
    assert not answers(private.host)
    assert not private.owner_file.exists()
    assert owner_of(private) is None
    assert answers(DEFAULT_SOCKET) == machine_answered, "the machine's engine was touched"
    assert HostNetwork.now() == host_before, "a private engine changed the host's network"
    assert private.bridge is not None
    assert not Path("/sys/class/net", private.bridge).exists(), "its own bridge was left behind"
    with pytest.raises(EngineError, match="not started by cachefarm"):
        stop_engine(private)


def test_an_engine_the_project_did_not_start_is_never_stopped(private: EngineSetup) -> None:
    stand_in = subprocess.Popen(["sleep", "60"])  # the pid file names a process the project did not start
    try:
        private.pid_file.write_text(f"{stand_in.pid}\n")
        with pytest.raises(EngineError, match=r"was not started by cachefarm.*left running"):
            stop_engine(private)
        private.owner_file.write_text(f'{{"pid": {finished_pid()}, "host": "{private.host}", "log": "x"}}')
        with pytest.raises(EngineError, match="another dockerd than the one cachefarm started"):
            stop_engine(private)
        assert stand_in.poll() is None, "a process the project did not start was stopped"
    finally:
        stand_in.kill()
        stand_in.wait()


def test_an_engine_that_cannot_start_says_why_and_leaves_nothing(private: EngineSetup) -> None:
    private.data_root.parent.mkdir(parents=True, exist_ok=True)
    private.data_root.write_text("a file where the data root should be\n")
    with pytest.raises(EngineError, match=r"(?s)dockerd exited with code \d+ .*the last lines of .*dockerd\.log:\n"):
        start_engine(private)
    assert not private.owner_file.exists()
    assert not answers(private.host)
    assert private.bridge is not None
    assert not Path("/sys/class/net", private.bridge).exists(), "its own bridge was left behind"
    assert "data-root" in private.log.read_text() or str(private.data_root) in private.log.read_text()


def test_farm_engine_commands_start_show_and_stop_a_private_engine(private: EngineSetup) -> None:
    where = ["--socket", str(private.socket), "--data-root", str(private.data_root)]
    where += ["--exec-root", str(private.exec_root), "--pid-file", str(private.pid_file), "--log", str(private.log)]

    def farm_engine(action: str, *more: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "farm.cli", "engine", action, *where, *more]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    none = farm_engine("status")
    assert none.returncode == 1
    assert f"none answers at {private.host}; start one with `farm engine start --socket {private.socket}" in none.stdout
    started = farm_engine("start", "--private-network")
    assert started.returncode == 0, started.stderr
    assert f"engine started at {private.host}: dockerd pid {pid_in(private.pid_file)}" in started.stdout
    shown = farm_engine("status")
    assert shown.returncode == 0
    assert f"answers at {private.host}, started by cachefarm (dockerd pid" in shown.stdout
    stopped = farm_engine("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"engine at {private.host} stopped" in stopped.stdout
    assert not answers(private.host)
    again = farm_engine("stop")
    assert again.returncode == 1
    assert "was not started by cachefarm" in again.stderr


def test_the_host_network_is_put_back_as_it_was() -> None:
    before = HostNetwork(ip_forward="0", forward_policy="ACCEPT", bridge=False)
    after = HostNetwork(ip_forward="1", forward_policy="DROP", bridge=True)
    assert restore_plan(before, after) == [
        ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"],
        ["iptables", "-P", "FORWARD", "ACCEPT"],
        ["ip", "link", "delete", "docker0"],
    ]
    assert restore_plan(after, after) == []  # what was there before the engine stays
    assert restore_plan(HostNetwork(None, None, True), after) == []  # what could not be read is not guessed
