"""The compose tests' engine and images, made ready by a process of its own while the rest of the suite runs.

A cold start (an engine to start, a base image to seed, four images to build) takes about a minute, most of it
waiting on disks and the package mirror; started when the suite is collected, with the compose tests run last,
it is over before they begin. ``python -m tests.compose.preparation DIR`` is that process; ``Preparation`` starts
it, waits for it and cleans up after it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from farm.containers.engine import connect, engine_address
from farm.containers.images import build_images, ensure_base_image, write_wheelhouse
from farm.containers.owned_engine import EngineSetup, answers, start_engine, stop_engine

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ["app", "redis", "postgres", "netfault"]
STARTED_MARK = "engine-started"
DONE_MARK = "done"


class PreparationFailed(Exception):
    """The engine did not start or an image did not build: every compose test fails with the log's end."""


def engine_setup(folder: Path) -> EngineSetup:
    return EngineSetup(log=folder / "dockerd.log")


def prepare(folder: Path) -> None:
    """An engine (started when none answers at Docker's own socket), the base image and the farm's images."""
    if "DOCKER_HOST" not in os.environ and not answers(engine_address()):
        start_engine(engine_setup(folder))
        (folder / STARTED_MARK).touch()
    client = connect()
    try:
        log = folder / "build.log"
        ensure_base_image(client, log)
        write_wheelhouse(log)
        build_images(client, TARGETS, log)
    finally:
        client.close()
    (folder / DONE_MARK).touch()


class Preparation:
    """The preparing process, seen from the test run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.output = folder / "preparation.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def build_log(self) -> Path:
        return self.folder / "build.log"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.output.open("wb") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.compose.preparation", str(self.folder)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches it through finish(), after the test run's own handling
            )

    def wait(self, timeout: float) -> None:
        """Returns once everything is ready; raises PreparationFailed with what went wrong."""
        if self._process is None:
            self.start()
        assert self._process is not None
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise PreparationFailed(f"the engine and images were not ready in {timeout:.0f} s") from None
        if not (self.folder / DONE_MARK).exists():
            tail = "\n".join(self.output.read_text(errors="replace").splitlines()[-30:])
            code = self._process.returncode
            raise PreparationFailed(f"preparing the engine and images failed (exit {code}), {self.output}:\n{tail}")

    def finish(self) -> None:
        """Interrupts a preparation still under way, then stops the engine if it was started for this run."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)  # start_engine stops a dockerd it started when interrupted
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if (self.folder / STARTED_MARK).exists():
            stop_engine(engine_setup(self.folder))
            (self.folder / STARTED_MARK).unlink()
        if (self.folder / DONE_MARK).exists():  # a failed preparation's logs are kept for the failures to name
            shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    folder = Path(sys.argv[1])
    started = time.monotonic()
    try:
        prepare(folder)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    print(f"engine and images ready in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
