"""The farm's images: the base image (pulled, or built from the apt mirror when no registry answers), the
host's wheels of the services' dependencies, and the images of compose/Dockerfile built through the engine.

``FARM_IMAGE_TAG`` (as compose.yaml reads it) tags the farm's images, ``latest`` by default; ``FARM_BASE_IMAGE``
names the base image, ``debian:bookworm-slim`` by default (a mirror's copy, or a fresh one to time a first build).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from farm.containers.checkout import compose_checkout
from farm.containers.compose_cli import last_lines
from farm.containers.engine import EngineError
from farm.errors import FarmError

if TYPE_CHECKING:
    import docker

BASE_IMAGE = "debian:bookworm-slim"
BASE_IMAGE_VARIABLE = "FARM_BASE_IMAGE"
SUITE = "bookworm"
"""The Debian release a seeded base image holds: the images' Python (3.11) is bookworm's."""
IMAGE_TAG = "latest"
IMAGE_TAG_VARIABLE = "FARM_IMAGE_TAG"
VALID_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
TARGETS = {
    "app": "cachefarm-app",
    "redis": "cachefarm-redis",
    "postgres": "cachefarm-postgres",
    "netfault": "cachefarm-netfault",
}
WHEELS = Path("compose") / "wheels"
WHEELS_STAMP = ".requirements"
WHEELS_PYTHON = (3, 11)
"""The images' Python (Debian bookworm's): wheels of another Python's would not install there."""
EXTRA_WHEELS = ("setuptools>=77", "async-timeout>=4.0.3")
"""setuptools builds the project in the image without an index; redis needs async-timeout on Debian's Python
3.11.2 (before 3.11.3), which the host's newer Python does not ask for."""


class ImageBuildError(FarmError):
    """An image did not build; the message ends with the last lines of the build."""


def image_tag() -> str:
    """The tag of the farm's images: ``FARM_IMAGE_TAG``, read when used, so that a farm built under a tag of its
    own leaves the ``latest`` images alone."""
    tag = os.environ.get(IMAGE_TAG_VARIABLE) or IMAGE_TAG
    if not VALID_TAG.fullmatch(tag):
        raise FarmError(
            f"{IMAGE_TAG_VARIABLE}={tag!r} is not an image tag: use letters, digits, '_', '.' and '-' (at most 128)"
        )
    return tag


def image_name(target: str) -> str:
    return f"{TARGETS[target]}:{image_tag()}"


def base_image() -> str:
    """``FARM_BASE_IMAGE``, or debian:bookworm-slim."""
    return os.environ.get(BASE_IMAGE_VARIABLE) or BASE_IMAGE


def split_reference(reference: str) -> tuple[str, str]:
    """``repository``, ``tag`` of an image reference (``latest`` when it names none; a registry's port is no tag)."""
    repository, colon, tag = reference.rpartition(":")
    if not colon or "/" in tag:
        return reference, "latest"
    return repository, tag


def ensure_base_image(client: docker.DockerClient, log: Path) -> str:
    """``present``, ``pulled`` or ``seeded``: the base image is there afterwards."""
    import docker.errors

    base = base_image()
    try:
        client.images.get(base)
        return "present"
    except docker.errors.ImageNotFound:
        pass
    repository, tag = split_reference(base)
    try:
        client.images.pull(repository, tag=tag)
        return "pulled"
    except docker.errors.APIError as exc:
        pull_error = str(exc).splitlines()[0][:200]
    seed_base_image(client, log, pull_error, base)
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


def seed_base_image(client: docker.DockerClient, log: Path, pull_error: str, base: str = BASE_IMAGE) -> None:
    """Builds a minimal Debian bookworm with debootstrap (from the apt mirror) and imports it as ``base``."""
    import docker.errors

    missing = f"{base} is not here and cannot be pulled ({pull_error})"
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
                f"debootstrap failed (exit {done.returncode}) building {base}:\n{last_lines(log.read_text())}"
            )
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
        # The name and tag as one reference: podman's compatible API ignores a separate tag (the image would be
        # debian:latest), the Docker Engine takes either.
        client.api.import_image(src=str(archive), repository=base, changes=['CMD ["bash"]'])
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        raise EngineError(
            f"the engine imported the debootstrap root file system but has no {base} afterwards: tag the "
            f"newest image as {base} (`docker tag`), or `docker load` one"
        ) from None
    with log.open("a") as out:
        out.write(f"seeded {base} in {time.monotonic() - started:.1f} s\n")


def write_wheelhouse(log: Path) -> None:
    """The services' dependencies as wheels in compose/wheels, so that the build needs no package index (and no
    certificate of this machine's): kept while pyproject.toml is unchanged."""
    checkout = compose_checkout()
    wheels, stamp_file = checkout / WHEELS, checkout / WHEELS / WHEELS_STAMP
    if sys.version_info[:2] != WHEELS_PYTHON:  # the build then installs from PyPI, as for a user who pulls
        return
    pyproject = (checkout / "pyproject.toml").read_bytes()
    stamp = hashlib.sha256(pyproject + "\n".join(EXTRA_WHEELS).encode()).hexdigest()
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    for wheel in wheels.glob("*.whl"):
        wheel.unlink()
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheels), f"{checkout}[services]"]
    command += EXTRA_WHEELS
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise ImageBuildError(f"the wheels of the services' dependencies did not build:\n{last_lines(done.stderr)}")
    for wheel in wheels.glob("cachefarm-*.whl"):
        wheel.unlink()  # the project itself is built from the checkout in the image, never from a stale wheel
    stamp_file.write_text(stamp)


def build_images(client: docker.DockerClient, targets: Sequence[str], log: Path) -> None:
    """Builds each target of compose/Dockerfile (the engine's layer cache makes a warm build a few seconds)."""
    import docker.errors

    log.parent.mkdir(parents=True, exist_ok=True)
    checkout = compose_checkout()
    for target in targets:
        try:
            _, lines = client.images.build(
                path=str(checkout),
                dockerfile="compose/Dockerfile",
                target=target,
                tag=image_name(target),
                buildargs={"BASE_IMAGE": base_image()},
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
