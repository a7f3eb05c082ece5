"""supervisord for one farm: its config files in the run directory, and control through its XML-RPC API."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from farm.errors import FarmError
from farm.servers.process_tree import has_exited

CONFIG = """[unix_http_server]
file={run}/supervisor.sock
chmod=0700

[supervisord]
logfile={run}/logs/supervisord.log
pidfile={run}/supervisord.pid
directory={run}
nodaemon=false
silent=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run}/supervisor.sock

[include]
files = {run}/programs/*.conf
"""


STOP_MARGIN_S = 2
"""Seconds supervisord waits beyond a program's own drain time, so that a drain that ends on time is not killed.
supervisord takes whole seconds."""


@dataclass(frozen=True)
class Program:
    name: str
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    stop_signal: str = "TERM"
    priority: int = 500
    stop_wait_s: float = 10.0
    """How long the program takes to drain after its stop signal; supervisord waits a little longer, then kills."""
    user: str | None = None
    """Runs as this user (supervisord must run as root); None: as supervisord."""
    directory: Path | None = None
    """Its working folder; None: the run directory. A program of another user needs one that user may enter."""

    def render(self, run: Path) -> str:
        quoted = " ".join(_quote(part) for part in self.command)
        env = ",".join(f'{k}="{_escape(v)}"' for k, v in self.environment.items())
        lines = [
            f"[program:{self.name}]",
            f"command={quoted}",
            f"directory={self.directory or run}",
            f"priority={self.priority}",
            "autostart=true",
            "autorestart=true",
            "startsecs=0",
            "startretries=3",
            f"stopsignal={self.stop_signal}",
            f"stopwaitsecs={math.ceil(self.stop_wait_s) + STOP_MARGIN_S}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={run}/logs/{self.name}.log",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=1",
        ]
        if env:
            lines.append(f"environment={env}")
        if self.user is not None:
            lines.append(f"user={self.user}")
        return "\n".join(lines) + "\n"


def _quote(part: str) -> str:
    return f'"{part}"' if any(c in part for c in " \t'\"") else part


def _escape(value: str) -> str:
    # supervisord expands %(name)s in its files: a literal percent sign is written twice.
    return value.replace("%", "%%").replace('"', '\\"')


class Supervisor:
    """One farm's supervisord, reached through the unix socket in its run directory."""

    def __init__(self, run: Path) -> None:
        self.run = run
        self.programs = run / "programs"
        self.socket = run / "supervisor.sock"

    # -- files -------------------------------------------------------------------------------------
    def write_config(self) -> None:
        """A new farm's configuration: programs an earlier farm in this folder left behind are not part of it."""
        (self.run / "logs").mkdir(parents=True, exist_ok=True)
        self.programs.mkdir(parents=True, exist_ok=True)
        for stale in self.programs.glob("*.conf"):
            stale.unlink()
        (self.run / "supervisord.conf").write_text(CONFIG.format(run=self.run))

    def write_program(self, program: Program) -> None:
        path = self.programs / f"{program.name}.conf"
        # The file may hold a cache URL with its password: only this user may read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(program.render(self.run))

    def delete_program(self, name: str) -> None:
        (self.programs / f"{name}.conf").unlink(missing_ok=True)

    # -- the daemon --------------------------------------------------------------------------------
    def start(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.run / "supervisord.conf")],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.run,
        )
        if result.returncode != 0:
            raise FarmError(f"supervisord did not start: {(result.stderr or result.stdout).strip()}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.05)
        raise FarmError(f"supervisord did not answer on {self.socket}; see {self.run}/logs/supervisord.log")

    def call(self, method: str, *args: Any) -> Any:
        """One XML-RPC call on a connection of its own, closed afterwards (a farm lives longer than a call)."""
        transport = SupervisorTransport(serverurl=f"unix://{self.socket}")
        try:
            return getattr(xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor, method)(*args)
        finally:
            transport.close()

    def running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return cast(str, self.call("getState")["statename"]) == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def pid(self) -> int | None:
        try:
            return int((self.run / "supervisord.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def shutdown(self) -> None:
        """Stops every program, then supervisord; waits until its process is gone.

        Every program is told to stop at once: supervisord's own shutdown stops them priority by priority and
        looks again only once a second, which made a farm of four priorities take four seconds or more."""
        pid = self.pid()
        if self.running():
            self.call("stopAllProcesses", False)
            deadline = time.monotonic() + SHUTDOWN_WAIT_S
            while time.monotonic() < deadline and any(
                info["statename"] in ("STARTING", "RUNNING", "BACKOFF", "STOPPING") for info in self.all_info()
            ):
                time.sleep(0.05)
            self.call("shutdown")
        if pid is not None:
            _wait_gone(pid, SHUTDOWN_WAIT_S)

    # -- programs ----------------------------------------------------------------------------------
    def add(self, program: Program) -> None:
        """A new program: its file, reloadConfig, addProcessGroup (which starts it)."""
        self.write_program(program)
        self.call("reloadConfig")
        self.call("addProcessGroup", program.name)

    def remove(self, name: str) -> None:
        """Stop, removeProcessGroup, delete the file."""
        self._call("stopProcess", name, ok=("NOT_RUNNING",))
        self.call("removeProcessGroup", name)
        self.delete_program(name)

    def stop(self, name: str) -> None:
        self._call("stopProcess", name, ok=("NOT_RUNNING",))

    def start_program(self, name: str) -> None:
        self._call("startProcess", name, ok=("ALREADY_STARTED",))

    def signal(self, name: str, sig: str) -> None:
        self.call("signalProcess", name, sig)

    def info(self, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("getProcessInfo", name))

    def all_info(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.call("getAllProcessInfo"))

    def _call(self, method: str, name: str, ok: tuple[str, ...]) -> None:
        try:
            self.call(method, name)
        except xmlrpc.client.Fault as fault:
            if not any(word in fault.faultString for word in ok):
                raise FarmError(f"supervisord refused for {name}: {fault.faultString}") from None


SHUTDOWN_WAIT_S = 30.0
"""The longest a farm's shutdown waits for its programs (each has its own stop wait, the longest a drain), then
for supervisord."""


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if has_exited(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
