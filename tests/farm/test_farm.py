"""Real farms: supervisord, redis-server, the source store, nodes and the proxy as separate processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from farm.cli import EXIT_BROKEN_PIPE
from farm.proxy_admin import ProxyAdmin
from farm.state import FarmState
from farm.testing.running import http
from farm.testing.servers import ServerProcess, start_redis
from tests.processes import alive, farm_pids

ROOT = Path(__file__).resolve().parents[2]

PASSWORD = "s3c/ret#Pa55:@"
"""With the characters that once got past the masking raw; in a URL it is percent-encoded, as redis-py needs."""
IN_URL = quote(PASSWORD, safe="")


def cli(*args: str, run: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "farm.cli", *args, "--run-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result


def status(run: Path) -> dict[str, Any]:
    result = cli("status", "--json", run=run)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def protected_redis() -> Iterator[ServerProcess]:
    with start_redis(extra_config=["--requirepass", PASSWORD]) as server:
        yield server


@pytest.fixture(scope="module")
def shared_farm(tmp_path_factory: pytest.TempPathFactory, protected_redis: ServerProcess) -> Iterator[Path]:
    """Three nodes on a Redis that needs a password."""
    run = tmp_path_factory.mktemp("shared") / "farm"
    url = f"redis://:{IN_URL}@127.0.0.1:{protected_redis.port}/0"
    up = cli("up", "--nodes", "3", "--cache", url, "--source-latency-ms", "5", run=run)
    assert up.returncode == 0, up.stderr
    yield run
    cli("down", run=run)


@pytest.fixture(scope="module")
def memory_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    run = tmp_path_factory.mktemp("memory") / "farm"
    up = cli("up", "--nodes", "3", "--env", "development", "--source-latency-ms", "5", run=run)
    assert up.returncode == 0, up.stderr
    yield run
    cli("down", run=run)


def get(url: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    reply = http("GET", url)
    return reply.status, reply.json() if reply.status == 200 else {}, reply.headers


def source_reads(run: Path) -> int:
    return int(http("GET", status(run)["source"] + "/stats").json()["reads"])


def test_round_robin_spreads_thirty_requests_ten_ten_ten(shared_farm: Path) -> None:
    proxy = status(shared_farm)["proxy"]
    nodes = [get(f"{proxy}/items/{i}")[2]["X-Node"] for i in range(30)]
    assert Counter(nodes) == {"node-1": 10, "node-2": 10, "node-3": 10}


def test_a_write_is_read_back_at_once_through_every_node(shared_farm: Path, memory_farm: Path) -> None:
    versions: dict[str, list[int]] = {}
    for name, run in (("redis", shared_farm), ("memory", memory_farm)):
        info = status(run)
        for node in info["nodes"]:  # every node has item 77 cached
            get(f"{node['url']}/items/77")
        written = http("PUT", f"{info['proxy']}/items/77", json.dumps({"price": 2.5}).encode()).json()["version"]
        seen = [get(f"{node['url']}/items/77")[1]["version"] for node in info["nodes"]]
        versions[name] = [v - written for v in seen]
    assert versions["redis"] == [0, 0, 0], "a shared cache: every node reads the new version at once"
    assert versions["memory"].count(-1) == 2, "per-node memory: the two nodes that did not write serve stale data"


def test_cached_items_survive_a_restart_of_every_node(shared_farm: Path) -> None:
    proxy = status(shared_farm)["proxy"]
    for i in range(200, 230):
        get(f"{proxy}/items/{i}")
    before = source_reads(shared_farm)
    restart = cli("restart-node", "--all", run=shared_farm)
    assert restart.returncode == 0, restart.stderr
    caches = [get(f"{proxy}/items/{i}")[2]["X-Cache"] for i in range(200, 230)]
    assert caches == ["HIT"] * 30
    assert source_reads(shared_farm) == before


def test_a_new_nodes_first_request_for_a_warm_item_is_a_hit(shared_farm: Path) -> None:
    get(status(shared_farm)["proxy"] + "/items/300")
    added = cli("add-node", run=shared_farm)
    assert added.returncode == 0, added.stderr
    new = status(shared_farm)["nodes"][-1]
    code, body, headers = get(f"{new['url']}/items/300")
    assert (code, body["id"], headers["X-Cache"]) == (200, 300, "HIT")
    removed = cli("remove-node", new["name"], run=shared_farm)
    assert removed.returncode == 0, removed.stderr
    assert [n["name"] for n in status(shared_farm)["nodes"]] == ["node-1", "node-2", "node-3"]


async def _load(proxy: str, seconds: float, concurrency: int = 8) -> Counter[int]:
    codes: Counter[int] = Counter()
    deadline = asyncio.get_running_loop().time() + seconds

    async def worker(offset: int) -> None:
        async with aiohttp.ClientSession() as http:
            i = offset
            while asyncio.get_running_loop().time() < deadline:
                async with http.get(f"{proxy}/items/{1 + i % 50}") as reply:
                    await reply.read()
                    codes[reply.status] += 1
                i += concurrency

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return codes


async def test_killing_a_node_under_load_fails_no_client_request(shared_farm: Path) -> None:
    proxy = (await asyncio.to_thread(status, shared_farm))["proxy"]
    load = asyncio.create_task(_load(proxy, 3.0))
    await asyncio.sleep(1.0)
    killed = await asyncio.to_thread(cli, "kill-node", "node-2", run=shared_farm)
    assert killed.returncode == 0, killed.stderr
    codes = await load
    assert set(codes) == {200}, f"every request succeeded: {dict(codes)}"
    assert codes[200] > 100


def test_the_admin_api_refuses_a_missing_or_wrong_token(shared_farm: Path) -> None:
    info = status(shared_farm)
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        request = urllib.request.Request(info["proxy"] + "/_proxy/backends", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        with refused.value as answer:
            assert answer.code == 401
    backends = ProxyAdmin(info["proxy"], info["admin_token"]).backends()
    assert [b["name"] for b in backends] == ["node-1", "node-2", "node-3"]


def assert_no_secret(text: str, where: str) -> None:
    for form in (PASSWORD, IN_URL, "s3c/ret", "Pa55"):
        assert form not in text, f"{where} shows the password ({form!r})"


def test_no_password_in_any_log_or_status(shared_farm: Path) -> None:
    shown = cli("status", run=shared_farm).stdout + cli("status", "--json", run=shared_farm).stdout
    assert "redis://:***@127.0.0.1" in shown
    assert_no_secret(shown, "farm status")
    logs = list((shared_farm / "logs").glob("*.log"))
    assert len(logs) >= 5
    for log in logs:
        assert_no_secret(log.read_text(errors="replace"), log.name)
    assert_no_secret(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout, "ps")
    # Where the nodes find the URL: readable by the farm's owner only.
    for holder in (shared_farm / "state.json", *(shared_farm / "programs").iterdir()):
        assert holder.stat().st_mode & 0o077 == 0, f"{holder.name} is readable by others"


def test_no_password_in_any_report_of_a_scenario_run(protected_redis: ServerProcess, tmp_path: Path) -> None:
    """A user's own Redis with a password (FARM_REDIS_URL): the terminal output, report.html, report.json,
    junit.xml, history.jsonl and the farm's logs kept with the reports show none of it."""
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        "name: tiny\nfarm: {nodes: 1, caches: [redis], source_latency_ms: 1}\nsteps:\n"
        "  - load: {requests: 40, concurrency: 2, keys: 5, read_ratio: 0.8}\n  - expect: {errors: 0}\n"
    )
    url = f"redis://:{IN_URL}@127.0.0.1:{protected_redis.port}/0"
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "farm.cli", "run", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "FARM_REDIS_URL": url},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert_no_secret(run.stdout + run.stderr, "farm run's output")
    written = [path for path in out.rglob("*") if path.is_file()]
    names = {path.name for path in written}
    assert {"report.html", "report.json", "junit.xml", "history.jsonl"} <= names
    assert any(path.suffix == ".log" for path in written), "the farm's logs are kept with the reports"
    for path in written:
        assert_no_secret(path.read_bytes().decode(errors="replace"), str(path.relative_to(out)))


def test_a_stopped_redis_fails_no_request_and_hits_resume(tmp_path: Path) -> None:
    run = tmp_path / "farm"
    up = cli("up", "--nodes", "2", "--cache", "redis", "--source-latency-ms", "5", run=run)
    assert up.returncode == 0, up.stderr
    try:
        proxy = status(run)["proxy"]
        get(f"{proxy}/items/9")
        assert cli("cache", "stop", run=run).returncode == 0
        down = [get(f"{proxy}/items/9") for _ in range(6)]
        assert [(code, headers["X-Cache"]) for code, _, headers in down] == [(200, "MISS")] * 6
        assert cli("cache", "start", run=run).returncode == 0
        get(f"{proxy}/items/9")  # a node whose connection broke with the stop may miss once more
        again = [get(f"{proxy}/items/9")[2]["X-Cache"] for _ in range(4)]
        assert again == ["HIT"] * 4
        pids = farm_pids(run)
        assert len(pids) >= 5  # supervisord, redis, source, 2 nodes, proxy
    finally:
        assert cli("down", run=run).returncode == 0
    assert not [pid for pid in pids if alive(pid)], "farm down left processes behind"


def test_down_also_stops_a_paused_node(tmp_path: Path) -> None:
    run = tmp_path / "farm"
    assert cli("up", "--nodes", "1", "--cache", "none", run=run).returncode == 0
    pids = farm_pids(run)
    assert cli("pause-node", "node-1", run=run).returncode == 0
    assert cli("down", run=run).returncode == 0
    assert not [pid for pid in pids if alive(pid)]
    for args in (
        ("kill-node", "node-1"),
        ("add-node",),
        ("restart-node", "node-1"),
        ("heal",),
        ("source", "--latency-ms", "5"),
        ("status",),
    ):
        after = cli(*args, run=run)
        assert (after.returncode, after.stdout) == (1, ""), after.stderr
        assert f"the farm in {run} is down: start it with `farm up --run-dir {run}`" in after.stderr
    as_json = cli("status", "--json", run=run)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["running"] is False


def test_a_farm_brought_up_again_in_the_same_folder_is_only_what_was_asked(tmp_path: Path) -> None:
    run = tmp_path / "farm"
    assert cli("up", "--nodes", "1", "--cache", "none", run=run).returncode == 0
    assert cli("add-node", run=run).returncode == 0
    assert cli("down", run=run).returncode == 0
    again = cli("up", "--nodes", "1", "--cache", "none", run=run)
    try:
        assert again.returncode == 0, again.stderr
        status = json.loads(cli("status", "--json", run=run).stdout)
        assert [n["name"] for n in status["nodes"]] == ["node-1"]
        assert sorted(status["processes"]) == ["proxy", "source"], "no program of the earlier farm came back"
    finally:
        assert cli("down", run=run).returncode == 0


def test_bad_requests_are_clear_errors(tmp_path: Path) -> None:
    missing = cli("status", run=tmp_path / "none")
    assert missing.returncode == 1
    assert "no farm in" in missing.stderr
    bad_cache = cli("up", "--cache", "carrier-pigeon", run=tmp_path / "x")
    assert bad_cache.returncode == 1
    assert "unknown cache 'carrier-pigeon'" in bad_cache.stderr
    for cache in ("memory", "none", "memory://"):
        unshared = cli("up", "--cache", cache, "--write-policy", "available", run=tmp_path / "y")
        assert unshared.returncode == 1
        assert "--write-policy available needs a shared cache" in unshared.stderr
    assert not (tmp_path / "y").exists(), "nothing was started"


def test_output_cut_short_by_its_reader_is_no_traceback(tmp_path: Path) -> None:
    FarmState(proxy_port=1, admin_token="t", source_port=2, cache_kind="none", cache_url=None).save(tmp_path)
    command = [sys.executable, "-m", "farm.cli", "status", "--json", "--run-dir", str(tmp_path)]  # a down farm's
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # as `farm status | head -1` does, before a line is written
    with process.stderr:
        error = process.stderr.read().decode()
    assert process.wait(timeout=30) == EXIT_BROKEN_PIPE
    assert "Traceback" not in error


def test_an_unknown_node_is_named_in_the_error(shared_farm: Path) -> None:
    unknown = cli("kill-node", "node-9", run=shared_farm)
    assert unknown.returncode == 1
    assert "no node named 'node-9' in this farm (nodes: node-1, node-2, node-3)" in unknown.stderr
