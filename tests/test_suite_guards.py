"""The suite's own guards, tried on a test file of their own: they must fail what they are there to catch."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.fixture
def guarded(pytester: pytest.Pytester) -> pytest.Pytester:
    # The guards alone: the suite's own helper modules (``tests.*``) are not importable from pytester's folder.
    guards = [line for line in CONFTEST.read_text().splitlines() if not line.startswith("import tests.")]
    pytester.makeconftest("\n".join(guards))
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def test_a_blocking_call_in_async_code_fails_its_test(guarded: pytest.Pytester) -> None:
    guarded.makepyfile(
        """
        import asyncio, time

        async def test_blocks_the_loop():
            time.sleep(0.15)

        async def test_awaits():
            await asyncio.sleep(0.15)

        def test_sync_code_may_block():
            time.sleep(0.15)
        """
    )
    result = guarded.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.re_match_lines([r".*ERROR at teardown of test_blocks_the_loop.*"])
    result.stdout.re_match_lines([r".*the event loop was blocked for more than 100 ms.*"])


def test_a_test_that_hangs_is_stopped_by_its_timeout(guarded: pytest.Pytester) -> None:
    guarded.makepyfile(
        """
        import time, pytest

        @pytest.mark.timeout(1)
        def test_hangs():
            time.sleep(30)
        """
    )
    result = guarded.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([r".*Timeout.*"])


def test_a_callback_held_back_by_a_busy_machine_does_not_fail_but_one_that_computes_too_long_does(
    guarded: pytest.Pytester,
) -> None:
    """Three busy processes share this test's one CPU: a callback computing for 50 ms takes about four times
    that on the clock, all but 50 ms of it waiting for the CPU, which is not the callback's doing."""
    guarded.makepyfile(
        """
        import os, subprocess, sys, time
        import pytest

        @pytest.fixture
        def busy_cpu():
            os.sched_setaffinity(0, {0})
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
            for hog in hogs:
                os.sched_setaffinity(hog.pid, {0})
            time.sleep(0.3)
            yield
            for hog in hogs:
                hog.kill()
                hog.wait()

        def compute(seconds):
            end = time.thread_time() + seconds
            while time.thread_time() < end:
                pass

        async def test_computes_briefly_on_a_busy_cpu(busy_cpu):
            started = time.perf_counter()
            compute(0.05)
            assert time.perf_counter() - started > 0.1, "the clock time is over the limit"

        async def test_computes_too_long_on_a_busy_cpu(busy_cpu):
            compute(0.12)
        """
    )
    result = guarded.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.re_match_lines([r".*ERROR at teardown of test_computes_too_long_on_a_busy_cpu.*"])
