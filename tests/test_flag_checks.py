"""Every service checks its command line before it starts: a value it cannot use is one line naming the flag, and
exit 2, not a service that answers 500 or ends in a traceback later."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from farm.cli import build_parser

NODE = ["nodes", "--name", "n", "--port", "0", "--source", "http://127.0.0.1:9"]
NODE_TIMEOUT = "give more than 0 and up to 3,600,000 milliseconds"
LIFETIME = "give 0 to 31,536,000 seconds (0: none)"
NOT_HTTP = "is not an http(s) URL with a host"
SOURCE = ["farm.source", "--port", "0", "--catalog", str(Path(tempfile.gettempdir()) / "never-made.db")]
ENV = {**os.environ, "FARM_PROXY_TOKEN": "t", "FARM_CACHE_URL": "none"}


def run(program: list[str], env: dict[str, str] = ENV) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *program], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def last_line(done: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    return done.returncode, done.stderr.strip().splitlines()[-1]


SERVICE_CASES = [
        (
            ["proxy", "--backend", "a=http://127.0.0.1:99999"],
            f"argument --backend: a=http://127.0.0.1:99999: url 'http://127.0.0.1:99999' {NOT_HTTP}",
        ),
        (["proxy", "--backend", "a=ftp://x"], f"argument --backend: a=ftp://x: url 'ftp://x' {NOT_HTTP}"),
        (["proxy", "--port", "8089", "--admin-port", "8089"], "--admin-port 8089: give a port other than --port's"),
        ([*NODE, "--queue-timeout-ms", "nan"], "argument --queue-timeout-ms: nan: give 1 to 3,600,000 milliseconds"),
        ([*NODE, "--queue-timeout-ms", "1e12"], "argument --queue-timeout-ms: 1e12: give 1 to 3,600,000 milliseconds"),
        ([*NODE, "--queue-timeout-ms", "0"], "argument --queue-timeout-ms: 0: give 1 to 3,600,000 milliseconds"),
        ([*NODE, "--cache-timeout-ms", "nan"], f"argument --cache-timeout-ms: nan: {NODE_TIMEOUT}"),
        ([*NODE, "--write-cache-timeout-ms", "0"], f"argument --write-cache-timeout-ms: 0: {NODE_TIMEOUT}"),
        (
            [*NODE, "--source-timeout", "inf"],
            "argument --source-timeout: inf: give more than 0 and up to 3,600 seconds",
        ),
        ([*NODE, "--item-sliding", "nan"], f"argument --item-sliding: nan: {LIFETIME}"),
        ([*NODE, "--item-sliding", "-5"], f"argument --item-sliding: -5: {LIFETIME}"),
        ([*NODE, "--item-absolute", "1e300"], f"argument --item-absolute: 1e300: {LIFETIME}"),
        ([*NODE, "--max-queue", "-1"], "argument --max-queue: -1: give 0 to 1,000,000 requests"),
        ([*SOURCE, "--latency-ms", "-5"], "argument --latency-ms: -5: give 0 to 60,000 milliseconds"),
        ([*SOURCE, "--jitter-ms", "nan"], "argument --jitter-ms: nan: give 0 to 60,000 milliseconds"),
        (
            [*SOURCE, "--fail-writes-after-apply", "2"],
            "argument --fail-writes-after-apply: 2: give 0 to 1 (a share of writes)",
        ),
        ([*SOURCE, "--items", "0"], "argument --items: 0: give 1 to 1,000,000 items"),
        (
            [*SOURCE, "--catalog", "/nonexistent/dir/x.db"],
            "argument --catalog: /nonexistent/dir/x.db: there is no folder /nonexistent/dir to hold it",
        ),
]  # fmt: skip


@pytest.mark.parametrize(("program", "message"), SERVICE_CASES, ids=[" ".join(p[-2:]) for p, _ in SERVICE_CASES])
def test_a_flag_a_service_cannot_use_is_one_line_naming_it(program: list[str], message: str) -> None:
    assert last_line(run(program)) == (2, f"python -m {program[0]}: error: {message}")


def test_the_proxy_reports_a_bad_flag_before_a_missing_token() -> None:
    env = {name: value for name, value in ENV.items() if name != "FARM_PROXY_TOKEN"}
    done = run(["proxy", "--backend", "a=ftp://x"], env)
    assert last_line(done) == (
        2,
        "python -m proxy: error: argument --backend: a=ftp://x: url 'ftp://x' is not an http(s) URL with a host",
    )


def test_a_host_the_proxy_cannot_listen_on_is_one_line() -> None:
    done = run(["proxy", "--host", "999.1.1.1", "--port", "0"])
    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("python -m proxy: cannot listen on 999.1.1.1: ")


def test_a_cache_url_the_node_cannot_use_is_one_line() -> None:
    done = run([*NODE, "--cache", "bogus://x"])
    assert "Traceback" not in done.stderr
    assert last_line(done) == (
        2,
        "python -m nodes: error: --cache: unknown cache URL bogus://x: use memory://, redis://, rediss://, "
        "postgresql://, mariadb://, mysql://, sqlite:///, mssql:// or an ODBC connection string",
    )


def test_the_http_reference_has_help() -> None:
    done = run(["farm.http_reference", "--help"])
    assert (done.returncode, done.stdout.splitlines()[0]) == (0, "usage: python -m farm.http_reference [-h] [DOCS_DIR]")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--item-sliding", "-5"], f"argument --item-sliding: -5: {LIFETIME}"),
        (["--source-latency-ms", "-5"], "argument --source-latency-ms: -5: give 0 to 60,000 milliseconds"),
        (["--proxy-port", "70000"], "argument --proxy-port: 70000 is not a port: give 0 to 65535"),
        (["--queue-timeout-ms", "nan"], "argument --queue-timeout-ms: nan: give 1 to 3,600,000 milliseconds"),
        (["--max-in-flight", "-1"], "argument --max-in-flight: -1: give 0 to 1,000,000 requests"),
    ],
)
def test_farm_up_refuses_a_flag_before_it_starts_anything(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["up", *flags])
    assert (exit.value.code, capsys.readouterr().err.strip().splitlines()[-1]) == (2, f"farm up: error: {message}")
