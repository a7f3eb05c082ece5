"""Running a GitHub Actions workflow's ``run:`` steps here, as the runner would: each through bash with the
runner's options, in a checkout of the repository, with the workflow's, job's and step's ``env``.

``uses:`` steps (checkout, setup-python, upload-artifact) are not run: the checkout is a copy of this one's files,
Python is this one, and what an upload would take is checked by the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]
"""The runner's default shell on Linux (``bash --noprofile --norc -eo pipefail {0}``)."""
OUTPUT_LINES = 25

COMPOSE_V2_SHIM = """#!/bin/sh
# `docker compose` (Compose v2) where only Compose v1 (`docker-compose`) is installed.
if [ "$1" = compose ]; then shift; exec docker-compose "$@"; fi
exec {docker} "$@"
"""


@dataclass(frozen=True)
class StepRun:
    name: str
    script: str
    returncode: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def explained(self) -> str:
        lines = [line for line in self.output.splitlines() if line.strip()][-OUTPUT_LINES:]
        shown = "\n".join("    " + line for line in lines)
        script = "\n".join("  $ " + line for line in self.script.strip().splitlines())
        return f"step {self.name!r} exited {self.returncode} after {self.seconds:.0f} s:\n{script}\n{shown}"


def load_workflow(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    if not isinstance(loaded, dict) or not isinstance(loaded.get("jobs"), dict):
        raise ValueError(f"{path} is not a workflow: it has no jobs")
    return loaded


def only_job(workflow: Mapping[str, Any]) -> dict[str, Any]:
    jobs = list(workflow["jobs"].values())
    if len(jobs) != 1:
        raise ValueError(f"the workflow has {len(jobs)} jobs; these tests run one")
    job: dict[str, Any] = jobs[0]
    return job


def step_name(step: Mapping[str, Any]) -> str:
    return str(step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0])


def run_steps(
    workflow: Mapping[str, Any], checkout: Path, environment: Mapping[str, str], timeout_s: float
) -> list[StepRun]:
    """Every ``run:`` step of the only job, in order; after a failure only ``if: always()`` steps run, as on the
    runner. ``environment`` is the machine's (the runner's own variables)."""
    job = only_job(workflow)
    done: list[StepRun] = []
    for step in job.get("steps", []):
        if "run" not in step:
            continue
        if done and not done[-1].ok and "always()" not in str(step.get("if", "")):
            continue
        env = {
            **environment,
            **{k: str(v) for k, v in (workflow.get("env") or {}).items()},
            **{k: str(v) for k, v in (job.get("env") or {}).items()},
            **{k: str(v) for k, v in (step.get("env") or {}).items()},
        }
        cwd = checkout / str(step.get("working-directory", "."))
        started = time.monotonic()
        try:
            finished = subprocess.run(
                [*SHELL, step["run"]],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout_s,
                check=False,
            )
            done.append(
                StepRun(step_name(step), step["run"], finished.returncode, finished.stdout, time.monotonic() - started)
            )
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
            said = f"{output}\n(more than {timeout_s:.0f} s)"
            done.append(StepRun(step_name(step), step["run"], -1, said, time.monotonic() - started))
    return done


def copy_checkout(source: Path, target: Path) -> None:
    """The files a clone of ``source`` would hold (tracked, and new ones not ignored), as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        origin = source / name
        if not origin.is_file():  # deleted in the work tree, not yet committed
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target / name)


def compose_v2_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0


def compose_v2_shim(folder: Path) -> Path | None:
    """A ``docker`` on PATH that hands ``docker compose`` to ``docker-compose``, only where v2 is missing; the
    folder to put first on PATH, or None."""
    if compose_v2_available():
        return None
    docker = shutil.which("docker")
    if docker is None or shutil.which("docker-compose") is None:
        raise RuntimeError("neither `docker compose` nor `docker` with `docker-compose` is installed")
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "docker"
    shim.write_text(COMPOSE_V2_SHIM.format(docker=docker))
    shim.chmod(0o755)
    return folder


def python_over(site_packages: Path, folder: Path) -> Path:
    """A virtualenv at ``folder`` that sees ``site_packages`` (the installed dependencies) but not the project: the
    workflow's own ``pip install`` then installs cachefarm from the checkout, without a package index. Its bin."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    purelib = subprocess.run(
        [str(folder / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path, not a site dir: the project's own editable install there is left out.
    (Path(purelib) / "cachefarm-dependencies.pth").write_text(f"{site_packages}\n")
    return folder / "bin"


def runner_environment(path_first: list[Path], extra: Mapping[str, str]) -> dict[str, str]:
    """This machine's environment as the runner's: the given folders first on PATH, CI=true."""
    path = os.pathsep.join([*map(str, path_first), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "CI": "true", "GITHUB_ACTIONS": "true", **extra}
