"""A Docker Engine that cachefarm starts itself when none answers (a fresh CI machine), and stops afterwards.

The project stops only an engine it started: starting one writes an owner file next to dockerd's pid file
(``docker.pid.cachefarm``) naming the pid; stopping needs that file and that pid, so an engine a user or a
service manager started is never stopped, whatever the socket.

Host changes. dockerd with its default flags leaves behind, after it stops: ``net.ipv4.ip_forward=1``, the
FORWARD chain's policy set to DROP (when it turned forwarding on itself), its DOCKER* iptables chains and rules,
and the ``docker0`` bridge. After stopping an engine it started, the project puts back ip_forward and the
FORWARD policy as they were before the start, and deletes docker0 when it was not there before. The DOCKER*
chains stay: they are dockerd's own, inert without docker0, and it takes them over at its next start.

A second engine beside the machine's (``private_network``) must not use ``--bridge=none``: dockerd then DELETES
docker0, the bridge of the engine that runs. It gets a bridge of its own instead (``cf-`` and a hash of its
socket, made before it starts and deleted after it stops; dockerd gives it a subnet no route uses) and
``--iptables=false --ip-forward=false --ip-masq=false``, so that it changes nothing else on the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from farm.containers.compose_cli import last_lines
from farm.containers.engine import EngineError

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
PING_TIMEOUT_S = 2
OWNER_SUFFIX = ".cachefarm"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
BRIDGE = "docker0"


@dataclass(frozen=True)
class EngineSetup:
    """Where an engine listens and keeps its files: Docker's standard places by default."""

    socket: Path = Path("/var/run/docker.sock")
    data_root: Path = Path("/var/lib/docker")
    exec_root: Path = Path("/var/run/docker")
    pid_file: Path = Path("/var/run/docker.pid")
    log: Path = Path("/var/log/cachefarm-dockerd.log")
    private_network: bool = False
    """A bridge of its own, no iptables, no forwarding: a second engine that leaves the host's network and the
    other engine's bridge alone (its containers reach nothing outside it but with ``--network host``)."""

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def owner_file(self) -> Path:
        return self.pid_file.with_name(self.pid_file.name + OWNER_SUFFIX)

    @property
    def bridge(self) -> str | None:
        """The private engine's own bridge (at most 15 characters, as Linux allows)."""
        if not self.private_network:
            return None
        return "cf-" + hashlib.sha256(str(self.socket).encode()).hexdigest()[:12]

    def command(self, dockerd: str) -> list[str]:
        command = [dockerd, "-H", self.host, "--data-root", str(self.data_root)]
        command += ["--exec-root", str(self.exec_root), "--pidfile", str(self.pid_file)]
        if self.bridge is not None:
            command += [f"--bridge={self.bridge}", "--iptables=false", "--ip-forward=false", "--ip-masq=false"]
        return command


@dataclass(frozen=True)
class HostNetwork:
    """What dockerd changes on the host's network and does not undo when it stops."""

    ip_forward: str | None
    forward_policy: str | None
    bridge: bool

    @classmethod
    def now(cls) -> HostNetwork:
        try:
            ip_forward: str | None = IP_FORWARD.read_text().strip()
        except OSError:
            ip_forward = None
        policy = None
        iptables = shutil.which("iptables")
        if iptables is not None:
            done = subprocess.run([iptables, "-S", "FORWARD"], capture_output=True, text=True, check=False)
            first = done.stdout.splitlines()[:1]
            if done.returncode == 0 and first and first[0].startswith("-P FORWARD "):
                policy = first[0].split()[2]
        return cls(ip_forward, policy, Path("/sys/class/net", BRIDGE).exists())


def restore_plan(before: HostNetwork, after: HostNetwork) -> list[list[str]]:
    """The commands that put back what the engine changed (``sysctl``, ``iptables -P``, ``ip link delete``)."""
    plan = []
    if before.ip_forward is not None and after.ip_forward is not None and before.ip_forward != after.ip_forward:
        plan.append(["sysctl", "-q", "-w", f"net.ipv4.ip_forward={before.ip_forward}"])
    if before.forward_policy is not None and after.forward_policy not in (None, before.forward_policy):
        plan.append(["iptables", "-P", "FORWARD", before.forward_policy])
    if not before.bridge and after.bridge:
        plan.append(["ip", "link", "delete", BRIDGE])
    return plan


@dataclass
class Owner:
    """The owner file: the engine cachefarm started, and the host as it was before."""

    pid: int
    host: str
    log: str
    before: HostNetwork | None = None
    bridge: str | None = None
    """The private engine's own bridge, deleted once it stopped."""
    started_at: float = field(default_factory=time.time)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Owner | None:
        try:
            data = json.loads(path.read_text())
            saved = data.pop("before", None)
            before = HostNetwork(**saved) if saved else None
            return cls(**data, before=before)
        except (OSError, ValueError, TypeError):
            return None


def answers(host: str, timeout: float = PING_TIMEOUT_S) -> bool:
    """Whether an engine answers ``GET /_ping`` at ``host`` now (a unix socket is asked directly: no client is
    left half-open by an engine that is not there)."""
    if not host.startswith("unix://"):
        import docker

        try:
            client = docker.DockerClient(base_url=host, timeout=int(timeout))
        except docker.errors.DockerException:
            return False
        try:
            return bool(client.ping())
        except (docker.errors.DockerException, OSError):
            return False
        finally:
            client.close()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(host.removeprefix("unix://"))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]


def is_running(pid: int) -> bool:
    """A live process (a zombie is not: it is reaped here when it is our child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def pid_in(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def find_dockerd() -> str:
    found = shutil.which("dockerd") or next(
        (str(p) for p in (Path("/usr/sbin/dockerd"), Path("/usr/bin/dockerd")) if p.exists()), None
    )
    if found is None:
        raise EngineError(
            "no container engine is installed (no dockerd): install Docker Engine (on Debian: `sudo apt-get install "
            "docker.io docker-compose`, or `make deps`), or set DOCKER_HOST to an engine that runs elsewhere"
        )
    return found


def owner_of(setup: EngineSetup) -> Owner | None:
    """The engine cachefarm started with this setup, if it still runs."""
    owner = Owner.load(setup.owner_file)
    if owner is None or pid_in(setup.pid_file) != owner.pid or not is_running(owner.pid):
        return None
    return owner


def clear_stale_pid_file(setup: EngineSetup) -> bool:
    """Removes a pid file whose process is gone (dockerd refuses to start while it is there)."""
    pid = pid_in(setup.pid_file)
    if not setup.pid_file.exists():
        return False
    if pid is not None and is_running(pid) and _command_name(pid) == "dockerd":
        raise EngineError(
            f"dockerd (pid {pid}, {setup.pid_file}) runs but does not answer at {setup.host}: wait for it, or look at "
            f"its log and stop it (`kill {pid}`) before starting another"
        )
    setup.pid_file.unlink()
    setup.owner_file.unlink(missing_ok=True)
    return True


def start_engine(setup: EngineSetup, timeout: float = START_TIMEOUT_S) -> Owner:
    """Starts dockerd in the background (it outlives this process) and waits until it answers."""
    if answers(setup.host):
        raise EngineError(f"an engine already answers at {setup.host}: use it (`farm engine status`)")
    dockerd = find_dockerd()
    if os.geteuid() != 0:
        raise EngineError(f"starting dockerd needs root: `sudo {' '.join(setup.command('dockerd'))} &`, then retry")
    clear_stale_pid_file(setup)
    before = None if setup.private_network else HostNetwork.now()
    if setup.bridge is not None:
        _make_bridge(setup.bridge)
    for folder in (setup.socket.parent, setup.pid_file.parent, setup.log.parent):
        folder.mkdir(parents=True, exist_ok=True)
    with setup.log.open("ab") as log:
        process = subprocess.Popen(
            setup.command(dockerd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not ended by the terminal's Ctrl-C, nor by the command that started it
        )
    owner = Owner(process.pid, setup.host, str(setup.log), before, setup.bridge)
    deadline = time.monotonic() + timeout
    try:
        while not answers(setup.host):
            code = process.poll()
            if code is not None or time.monotonic() > deadline:
                said = f"exited with code {code}" if code is not None else f"did not answer in {timeout:.0f} s"
                raise EngineError(
                    f"dockerd {said} at {setup.host}; the last lines of {setup.log}:\n{last_lines(_tail(setup.log))}"
                )
            time.sleep(0.2)
    except BaseException:  # not answering, or interrupted while waiting: no engine nor host change is left behind
        if process.poll() is None:
            _end(process.pid, STOP_TIMEOUT_S)
            process.wait()
        _restore(before, setup.bridge)
        raise
    owner.save(setup.owner_file)
    process.returncode = 0  # it runs on by design: no "still running" warning when this object goes
    return owner


def stop_engine(setup: EngineSetup, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Stops the engine cachefarm started with this setup (by its pid) and puts the host's network back;
    returns the pid, or None when it had already stopped. An engine started otherwise is left running."""
    owner = Owner.load(setup.owner_file)
    if owner is None:
        raise EngineError(
            f"the engine at {setup.host} was not started by cachefarm (no {setup.owner_file}): it is left running; "
            "stop it the way it was started"
        )
    if pid_in(setup.pid_file) not in (None, owner.pid):
        setup.owner_file.unlink()
        raise EngineError(
            f"{setup.pid_file} names another dockerd than the one cachefarm started (pid {owner.pid}): it is left "
            "running"
        )
    # Only that dockerd: a pid whose engine is gone may belong to another process by now.
    pid = owner.pid if is_running(owner.pid) and _command_name(owner.pid) == "dockerd" else None
    if pid is not None:
        _end(pid, timeout)
    _restore(owner.before, owner.bridge)
    setup.owner_file.unlink(missing_ok=True)
    return pid


def _end(pid: int, timeout: float) -> None:
    """SIGTERM (dockerd stops its containers and its containerd), then SIGKILL if it takes longer than timeout."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for last_signal in (signal.SIGKILL, None):
        deadline = time.monotonic() + timeout
        while is_running(pid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            return
        if last_signal is None:
            raise EngineError(f"dockerd (pid {pid}) did not end, even after SIGKILL: look at `ps -l {pid}`")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, last_signal)


def _restore(before: HostNetwork | None, bridge: str | None) -> None:
    plan = restore_plan(before, HostNetwork.now()) if before is not None else []
    if bridge is not None and Path("/sys/class/net", bridge).exists():
        plan.append(["ip", "link", "delete", bridge])
    for command in plan:
        subprocess.run(command, capture_output=True, check=False)


def _make_bridge(name: str) -> None:
    if Path("/sys/class/net", name).exists():
        return
    command = ["ip", "link", "add", "name", name, "type", "bridge"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise EngineError(f"the private engine's bridge {name} could not be made: {done.stderr.strip()}")


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-20_000:]
    except OSError:
        return "(no log)"
