"""The farm's images: the base image (pulled, or built from the apt mirror when no registry answers), the
host's wheels of the services' dependencies, and the images of compose/Dockerfile built through the engine."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from farm.containers.checkout import CHECKOUT, COMPOSE_DIR
from farm.containers.compose_cli import last_lines
from farm.containers.engine import EngineError
from farm.errors import FarmError

if TYPE_CHECKING:
    import docker

BASE_REPOSITORY, BASE_TAG = "debian", "bookworm-slim"
BASE_IMAGE = f"{BASE_REPOSITORY}:{BASE_TAG}"
SUITE = "bookworm"
IMAGE_TAG = "latest"
TARGETS = {"app": "cachefarm-app", "redis": "cachefarm-redis", "postgres": "cachefarm-postgres"}
WHEELS = COMPOSE_DIR / "wheels"
WHEELS_STAMP = WHEELS / ".requirements"
EXTRA_WHEELS = ("setuptools>=77", "async-timeout>=4.0.3")
"""setuptools builds the project in the image without an index; redis needs async-timeout on Debian's Python
3.11.2 (before 3.11.3), which the host's newer Python does not ask for."""


class ImageBuildError(FarmError):
    """An image did not build; the message ends with the last lines of the build."""


def image_name(target: str) -> str:
    return f"{TARGETS[target]}:{IMAGE_TAG}"


def ensure_base_image(client: docker.DockerClient, log: Path) -> str:
    """``present``, ``pulled`` or ``seeded``: the base image is there afterwards."""
    import docker.errors

    try:
        client.images.get(BASE_IMAGE)
        return "present"
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(BASE_REPOSITORY, tag=BASE_TAG)
        return "pulled"
    except docker.errors.APIError as exc:
        pull_error = str(exc).splitlines()[0][:200]
    seed_base_image(client, log, pull_error)
    return "seeded"


def apt_mirror() -> str:
    """The machine's own Debian mirror (its sources), so that the seeded image installs from the same place."""
    for sources in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if not sources.exists():
            continue
        for line in sources.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and len(words) > 1:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2 and not words[1].startswith("["):
                return words[1]
    return "http://deb.debian.org/debian"


def seed_base_image(client: docker.DockerClient, log: Path, pull_error: str) -> None:
    """Builds debian:bookworm-slim with debootstrap (a minimal Debian from the apt mirror) and imports it."""
    import docker.errors

    missing = f"{BASE_IMAGE} is not here and cannot be pulled ({pull_error})"
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if debootstrap is None:
        raise EngineError(
            f"{missing}: install debootstrap (`sudo apt-get install debootstrap`) to build it here, or `docker load` "
            "one"
        )
    if os.geteuid() != 0:
        raise EngineError(
            f"{missing}: building it with debootstrap needs root (run the farm as root once), or `docker load` one"
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cachefarm-rootfs-", dir="/var/tmp") as folder:
        rootfs, archive = Path(folder) / "rootfs", Path(folder) / "rootfs.tar"
        with log.open("a") as out:
            done = subprocess.run(
                [debootstrap, "--variant=minbase", SUITE, str(rootfs), apt_mirror()],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise EngineError(
                f"debootstrap failed (exit {done.returncode}) building {BASE_IMAGE}:\n{last_lines(log.read_text())}"
            )
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
        # The name and tag as one reference: podman's compatible API ignores a separate tag (the image would be
        # debian:latest), the Docker Engine takes either.
        client.api.import_image(src=str(archive), repository=BASE_IMAGE, changes=['CMD ["bash"]'])
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        raise EngineError(
            f"the engine imported the debootstrap root file system but has no {BASE_IMAGE} afterwards: tag the "
            f"newest image as {BASE_IMAGE} (`docker tag`), or `docker load` one"
        ) from None
    with log.open("a") as out:
        out.write(f"seeded {BASE_IMAGE} in {time.monotonic() - started:.1f} s\n")


def write_wheelhouse(log: Path) -> None:
    """The services' dependencies as wheels in compose/wheels, so that the build needs no package index (and no
    certificate of this machine's): kept while pyproject.toml is unchanged."""
    pyproject = (CHECKOUT / "pyproject.toml").read_bytes()
    stamp = hashlib.sha256(pyproject + "\n".join(EXTRA_WHEELS).encode()).hexdigest()
    if WHEELS_STAMP.exists() and WHEELS_STAMP.read_text() == stamp:
        return
    for wheel in WHEELS.glob("*.whl"):
        wheel.unlink()
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(WHEELS), f"{CHECKOUT}[services]"]
    command += EXTRA_WHEELS
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise ImageBuildError(f"the wheels of the services' dependencies did not build:\n{last_lines(done.stderr)}")
    for wheel in WHEELS.glob("cachefarm-*.whl"):
        wheel.unlink()  # the project itself is built from the checkout in the image, never from a stale wheel
    WHEELS_STAMP.write_text(stamp)


def build_images(client: docker.DockerClient, targets: Sequence[str], log: Path) -> None:
    """Builds each target of compose/Dockerfile (the engine's layer cache makes a warm build a few seconds)."""
    import docker.errors

    log.parent.mkdir(parents=True, exist_ok=True)
    for target in targets:
        try:
            _, lines = client.images.build(
                path=str(CHECKOUT),
                dockerfile=str((COMPOSE_DIR / "Dockerfile").relative_to(CHECKOUT)),
                target=target,
                tag=image_name(target),
                rm=True,
                forcerm=True,
            )
            with log.open("a") as out:
                out.writelines(str(line.get("stream", "")) for line in lines if isinstance(line, dict))
        except docker.errors.BuildError as exc:
            output = "".join(str(line.get("stream", line.get("error", ""))) for line in exc.build_log)
            with log.open("a") as out:
                out.write(output)
            raise ImageBuildError(f"the {target} image did not build ({exc.msg}):\n{last_lines(output)}") from None
        except docker.errors.APIError as exc:
            raise ImageBuildError(f"the {target} image did not build: {exc}") from None
