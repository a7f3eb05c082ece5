"""The suite's own guards, tried on a test file of their own: they must fail what they are there to catch."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.fixture
def guarded(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
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
