"""A private PostgreSQL cluster: its binaries, its owner, a fresh data directory, its command line.

The farm runs one under supervisord and the test fixtures run one directly; both set it up here. initdb takes
most of a second, so the first cluster is made once into a template that every later one copies.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from farm.errors import FarmError

DATABASE = "postgres"
USER = "postgres"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "100",
    # A test rig's cache: data survives a clean stop (a fast shutdown writes everything), not a power cut.
    "fsync": "off",
    "full_page_writes": "off",
    "log_destination": "stderr",
}


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FarmError(f"{name} not found under /usr/lib/postgresql: install the Debian package postgresql")
    return found[-1]


def server_user() -> pwd.struct_passwd | None:
    """initdb refuses to run as root, so root runs the server as the postgres user; anyone else as themselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        raise FarmError("running as root needs the postgres user: install the Debian package postgresql") from None


def as_owner(owner: pwd.struct_passwd | None) -> dict[str, Any]:
    """``subprocess`` keywords that run a command as the cluster's owner."""
    return {} if owner is None else {"user": owner.pw_uid, "group": owner.pw_gid}


def owned_directory(prefix: str, owner: pwd.struct_passwd | None) -> Path:
    """A new temporary folder that the cluster's owner may write in."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    return directory


def _template(owner: pwd.struct_passwd | None) -> Path:
    """The template cluster's data directory; made now if there is none yet (or none to trust)."""
    version = Path(pg_bin("initdb")).parent.parent.name
    uid = os.geteuid() if owner is None else owner.pw_uid
    home = Path(tempfile.gettempdir()) / f"cachefarm-pg-template-{version}-{uid}"
    data = home / "data"
    try:
        info = home.stat()
        if info.st_uid == uid and info.st_mode & 0o077 == 0 and (data / "PG_VERSION").is_file():
            return data
    except FileNotFoundError:
        pass
    building = owned_directory("cachefarm-pg-initdb-", owner)
    init = subprocess.run(
        [pg_bin("initdb"), "-D", str(building / "data"), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        check=False,
        cwd=building,
        **as_owner(owner),
    )
    if init.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise FarmError(f"initdb failed ({init.returncode}): {init.stderr.strip()[-2000:]}")
    if home.exists():  # one we could not trust: out of the way
        shutil.rmtree(home, ignore_errors=True)
    try:
        building.rename(home)
    except OSError:  # another process made one meanwhile: use theirs
        shutil.rmtree(building, ignore_errors=True)
    return data


def new_cluster(data: Path, owner: pwd.struct_passwd | None) -> None:
    """A fresh cluster in ``data`` (whose parent the owner may write in): a copy of the template."""
    copied = subprocess.run(
        ["cp", "-a", str(_template(owner)), str(data)], capture_output=True, text=True, check=False, **as_owner(owner)
    )
    if copied.returncode != 0:
        raise FarmError(f"could not copy the PostgreSQL template to {data}: {copied.stderr.strip()}")


def server_command(data: Path, port: int, socket_directory: Path) -> list[str]:
    settings = {**SETTINGS, "unix_socket_directories": str(socket_directory)}
    options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
    return [pg_bin("postgres"), "-D", str(data), "-p", str(port), *options]


def cache_url(port: int) -> str:
    return f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"


def accepts(port: int) -> bool:
    """The server takes connections (not merely listens: it refuses them while it starts or recovers)."""
    ready = subprocess.run(
        [pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)], capture_output=True, check=False
    )
    return ready.returncode == 0
