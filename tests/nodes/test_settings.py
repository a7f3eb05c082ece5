"""NodeSettings and the node's command line: bad values are refused with a message that names them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nodes.admission import AdmissionLimits
from nodes.settings import NodeSettings


def settings(**overrides: object) -> NodeSettings:
    return NodeSettings(name="n", source_url="http://s", cache_url=None, **overrides)  # type: ignore[arg-type]


def test_defaults_are_strict_with_a_ten_second_source_timeout() -> None:
    default = settings()
    assert (default.write_policy, default.source_timeout) == ("strict", 10.0)
    assert default.lock_lease.total_seconds() == pytest.approx(10.0 + 3 * 2.0 + 1.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"write_policy": "eventual"}, "write_policy='eventual': use one of strict, available"),
        ({"source_timeout": 0}, "source_timeout=0: must be a positive number of seconds"),
        ({"cache_timeout": -1.0}, "cache_timeout=-1.0: must be a positive number of seconds"),
        ({"cache_timeout": float("nan")}, "cache_timeout=nan: must be a positive number of seconds"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**overrides)


def test_an_endless_queue_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="queue_timeout=inf: must be a positive number of seconds"):
        AdmissionLimits(queue_timeout=float("inf"))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--write-policy", "eventual"], "argument --write-policy: invalid choice: 'eventual'"),
        (["--source-timeout", "0"], "argument --source-timeout: 0: give more than 0 and up to 3,600 seconds"),
        (["--max-in-flight", "-1"], "argument --max-in-flight: -1: give 0 to 1,000,000 requests"),
    ],
)
def test_the_command_line_refuses_bad_flags(flags: list[str], message: str) -> None:
    command = [sys.executable, "-m", "nodes", "--name", "n", "--port", "1", "--source", "http://s", "--cache", "none"]
    done = subprocess.run([*command, *flags], capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr
