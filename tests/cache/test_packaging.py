"""cachefarm installed from its wheel into fresh virtualenvs: the cache alone needs no third-party package,
and the redis extra brings Redis and nothing else.

The wheel is built once per session, offline, from a copy of the sources (a build writes build/ and an
egg-info next to them). Each virtualenv is made without pip, and this suite's pip installs into it
(``pip --python``), which saves bootstrapping pip every time. The checks inside run tests/cache/installed.py.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
import redis

from farm.cache import RedisCache
from farm.testing.servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CHECKS = Path(__file__).with_name("installed.py")
SOURCES = ("pyproject.toml", "README.md", "farm", "nodes", "proxy", "faults")

pytestmark = pytest.mark.slow


def pip(*args: str | Path, python: Path | None = None) -> None:
    target = [] if python is None else ["--python", str(python)]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *target, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"pip {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    # No build isolation: setuptools comes from the dev extra, so the build needs no index.
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", dist, source)
    (built,) = dist.glob("cachefarm-*.whl")
    return built


def fresh_venv(path: Path) -> Path:
    venv.create(path, with_pip=False, clear=True)
    return path / "bin" / "python"


def run_checks(python: Path, *args: str) -> dict[str, Any]:
    # -I: no PYTHONPATH, no user site and not the current directory on sys.path, so only the install counts.
    done = subprocess.run(
        [str(python), "-I", str(CHECKS), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


def test_the_cache_alone_installs_no_dependency_and_works_without_any_driver(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    pip("install", "--no-index", wheel, python=python)  # no index at all: any dependency would fail the install
    seen = run_checks(python, "base")

    assert Path(seen["farm.cache"]).is_relative_to(tmp_path / "venv")
    assert seen["distributions"] == ["cachefarm"]
    assert seen["requires"], "the extras are missing from the wheel's metadata"
    assert all("extra ==" in requirement for requirement in seen["requires"]), seen["requires"]
    assert seen["importable"] == []
    assert seen["memory"] == {
        "get": True,
        "get_string": "Grüße",
        "after remove": None,
        "add": [True, False, "1"],
        "absolute at 9 s of 10": "v",
        "absolute at 11 s of 10": None,
        "sliding read every 8 s, then after 11 s": ["v", "v", "v", None],
        "async": "v",
        "zero sliding window": (
            "ValueError: sliding_expiration=datetime.timedelta(0): the sliding expiration value must be positive"
        ),
    }
    assert seen["memory url"] == "MemoryCache"
    assert seen["redis url"] == {
        "error": "MissingDriverError",
        "message": "RedisCache needs redis (redis-py), which is not installed: pip install 'cachefarm[redis]'",
        "import error": True,
    }
    assert seen["postgresql url"] == {
        "error": "MissingDriverError",
        "message": "SqlCache needs pyodbc, which is not installed: pip install 'cachefarm[sql]'",
        "import error": True,
    }
    assert seen["from farm.cache import RedisCache"] == f"MissingDriverError: {seen['redis url']['message']}"

    farm = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "farm"), "status"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (farm.returncode, farm.stdout) == (2, "")
    assert farm.stderr.splitlines() == [farm.stderr.strip()]
    assert "pip install 'cachefarm[farm]'" in farm.stderr


def test_the_redis_extra_brings_redis_alone_and_writes_the_dotnet_layout(
    wheel: Path, tmp_path: Path, redis_server: ServerProcess
) -> None:
    python = fresh_venv(tmp_path / "venv")
    # The driver versions this suite runs with, from the indexes pip is configured with (its cache serves
    # them again); binary wheels only, so that nothing is compiled.
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("".join(f"{name}=={importlib.metadata.version(name)}\n" for name in ("redis", "hiredis")))
    pip("install", "--only-binary", ":all:", "--constraint", constraints, f"{wheel}[redis]", python=python)
    url = redis_server.url
    seen = run_checks(python, "redis", url)

    assert Path(seen["farm.cache"]).is_relative_to(tmp_path / "venv")
    assert {"cachefarm", "redis", "hiredis"} <= set(seen["distributions"])
    assert seen["importable"] == ["hiredis", "redis"]
    assert (seen["class"], seen["is RedisCache"], seen["hiredis"]) == ("RedisCache", True, True)
    assert (seen["read back"], seen["async read back"]) == ("payload", "async payload")
    sliding_ticks = 5 * 60 * 10_000_000
    assert seen["hash"] == {"absexp": "-1", "sldexp": str(sliding_ticks), "data": "payload"}
    assert 290_000 < seen["ttl ms"] <= 300_000
    assert seen["postgresql url"]["message"].endswith("pip install 'cachefarm[sql]'")

    # Seen from this suite's own clients: the same hash, in .NET's field order, and the same value.
    key = f"{seen['instance']}k"
    raw = redis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        assert list(raw.hgetall(key)) == [b"absexp", b"sldexp", b"data"]
        with RedisCache(url, instance_name=seen["instance"]) as cache:
            assert cache.get("k") == b"payload"
    finally:
        raw.delete(key, f"{seen['instance']}async")
        raw.close()
