"""`farm run` as users and CI run it: a real process, real farms, its exit codes and the files it writes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from farm.scenario.history import read_history
from tests.processes import alive

ROOT = Path(__file__).resolve().parents[2]


def farm_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farm.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_the_shipped_coherence_scenario_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Redis runs it on containers too (tests/compose/test_ci_workflow.py): here one shared cache is enough.
    done = farm_run("scenarios/coherence.yaml", "--cache", "memory,sql", "--out", str(out), "--seed", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "coherence violations" in done.stdout
    assert f"report: {out / 'report.html'}" in done.stdout.replace("\n", "")

    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is True
    caches = {c["cache"]: c for c in report["caches"]}
    assert list(caches) == ["memory", "sql"]
    assert caches["memory"]["figures"]["coherence_violations"] > 0
    first = caches["memory"]["first_coherence_violations"][0]
    assert first["seen"] < first["expected"]
    assert first["node"] != "node-1", "the node that took the write removed its own copy"
    for shared in ("sql",):
        assert caches[shared]["figures"]["coherence_violations"] == 0
        assert caches[shared]["passed"] is True
        assert caches[shared]["per_second"], "a per-second series for the plots"

    suites = ET.parse(out / "junit.xml").getroot()
    by_name = {s.get("name"): s for s in suites.iter("testsuite")}
    assert set(by_name) == {"coherence[memory]", "coherence[sql]"}
    memory = by_name["coherence[memory]"]
    assert (memory.get("tests"), memory.get("failures"), memory.get("skipped")) == ("5", "0", "2")
    skipped = memory.find("testcase/skipped")
    assert skipped is not None
    assert "coherence_violations was" in (skipped.get("message") or "")
    for shared in ("coherence[sql]",):
        assert by_name[shared].get("failures") == "0"
        assert [c.get("name") for c in by_name[shared].iter("testcase")] == [
            "runs every step",
            "line 19: coherence_violations == 0",
            "line 19: errors == 0",
            "line 21: coherence_violations == 0",
            "line 21: errors == 0",
        ]

    history = out / "history.jsonl"
    for cache in caches:
        assert len(list(read_history(history, cache))) == caches[cache]["figures"]["requests"]
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 2
    assert "write keys 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 via node-1" in html
    assert (out / "logs" / "sql" / "supervisord.log").is_file()
    assert not list(out.rglob("state.json")), "the farm's state (with its admin token) is not kept"


def test_a_failed_expectation_exits_1_and_fails_in_junit(tmp_path: Path) -> None:
    scenario = tmp_path / "strict.yaml"
    scenario.write_text(
        "name: strict\nfarm: {nodes: 1, caches: [none], source_latency_ms: 1}\n"
        "steps:\n  - load: {requests: 20, concurrency: 2, keys: 5}\n  - expect: {hit_ratio: {min: 0.5}}\n"
    )
    done = farm_run(str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stdout + done.stderr
    failure = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "hit_ratio was 0, expected >= 0.5"
    assert failure.text == f"{scenario}:5: hit_ratio was 0, expected >= 0.5"


def test_a_bad_file_exits_2_naming_each_problem_and_runs_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: bad\nsteps:\n  - load: {duration_s: -1}\n  - restart: {node: web-1}\n")
    done = farm_run(str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"farm run: {scenario}:3: steps[0].load.duration_s: -1 is less than or equal to the minimum of 0",
        f"farm run: {scenario}:4: steps[1].restart.node: 'web-1' does not match '^node-[0-9]+$'",
        "farm run: 2 problem(s); nothing was run",
    ]
    assert not (tmp_path / "out").exists()
    unknown = farm_run("scenarios/coherence.yaml", "--cache", "redis,mongo", "--out", str(tmp_path / "out"))
    assert unknown.returncode == 2
    assert "--cache 'redis,mongo': unknown mongo" in unknown.stderr


def test_ctrl_c_tears_the_farm_down_and_keeps_the_reports(tmp_path: Path) -> None:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(
        "name: long\nfarm: {nodes: 2, caches: [redis]}\nsteps:\n  - load: {duration_s: 60, concurrency: 2, keys: 10}\n"
    )
    short_tmp = Path(f"/tmp/cf-{os.getpid()}")
    short_tmp.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "farm.cli", "run", str(scenario), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(short_tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As in a terminal, whatever started the tests: a background job of a shell ignores SIGINT, and so would
        # every process it starts.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "1. load" in line:
                break
        time.sleep(1)
        run_dir = next(short_tmp.glob("cachefarm-redis-*"))
        supervisord = int((run_dir / "supervisord.pid").read_text())
        children = subprocess.run(["pgrep", "-P", str(supervisord)], capture_output=True, text=True, check=False)
        pids = {supervisord, *map(int, children.stdout.split())}
        assert len(pids) == 6, "supervisord, redis, the source store, two nodes and the proxy"
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[0]
        run_dir_left = run_dir.exists()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(60)
        shutil.rmtree(short_tmp, ignore_errors=True)
    assert process.returncode == 130, rest
    assert not [pid for pid in pids if alive(pid)], "Ctrl-C left farm processes behind"
    assert not run_dir_left, "the farm's temporary folder is removed"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["caches"][0]["failure"] == "interrupted"
