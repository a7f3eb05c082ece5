"""Admission on its own: slots, a line served in order, and the two ways a request is turned away."""

from __future__ import annotations

import asyncio

import pytest

from nodes.admission import Admission, AdmissionLimits, Overloaded

NEVER = 600.0


async def waiting(admission: Admission, count: int) -> list[asyncio.Task[None]]:
    """``count`` requests in line, in this order."""
    tasks = [asyncio.create_task(admission.wait()) for _ in range(count)]
    await asyncio.sleep(0)
    assert admission.queued == count
    return tasks


async def test_a_freed_slot_goes_to_the_longest_waiter_and_no_newcomer_overtakes_it() -> None:
    admission = Admission(AdmissionLimits(max_in_flight=2, max_queue=10, queue_timeout=NEVER))
    assert admission.try_enter()
    assert admission.try_enter()
    assert not admission.try_enter(), "both slots are taken"
    first, second = await waiting(admission, 2)
    admission.leave()
    assert not admission.try_enter(), "the freed slot is the first waiter's, not a newcomer's"
    await first
    assert not second.done()
    assert (admission.in_flight, admission.queued) == (2, 1)
    admission.leave()
    await second
    for _ in range(2):
        admission.leave()
    assert (admission.in_flight, admission.queued) == (0, 0)
    assert admission.try_enter()


async def test_a_full_line_turns_a_request_away_at_once() -> None:
    admission = Admission(AdmissionLimits(max_in_flight=1, max_queue=2, queue_timeout=NEVER))
    assert admission.try_enter()
    line = await waiting(admission, 2)
    with pytest.raises(Overloaded, match="1 requests in flight and 2 waiting"):
        await admission.wait()
    for task in line:
        task.cancel()
    await asyncio.gather(*line, return_exceptions=True)
    assert (admission.in_flight, admission.queued) == (1, 0)


async def test_a_request_that_waits_too_long_is_turned_away_and_leaves_the_line() -> None:
    admission = Admission(AdmissionLimits(max_in_flight=1, max_queue=5, queue_timeout=0.01))
    assert admission.try_enter()
    with pytest.raises(Overloaded, match="no free slot in 10 ms"):
        await admission.wait()
    assert (admission.in_flight, admission.queued) == (1, 0)
    admission.leave()
    assert admission.in_flight == 0


async def test_a_slot_handed_to_a_request_cancelled_meanwhile_goes_to_the_next_one() -> None:
    admission = Admission(AdmissionLimits(max_in_flight=1, max_queue=5, queue_timeout=NEVER))
    assert admission.try_enter()
    first, second = await waiting(admission, 2)
    admission.leave()  # the slot is first's, but first is cancelled before it runs again
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await second
    assert (admission.in_flight, admission.queued) == (1, 0)


async def test_a_slot_freed_as_the_only_waiter_runs_out_of_time_is_free_for_the_next_request() -> None:
    admission = Admission(AdmissionLimits(max_in_flight=1, max_queue=5, queue_timeout=NEVER))
    assert admission.try_enter()
    late = await waiting(admission, 1)
    admission._expire(admission._line[0])  # its wait runs out; its request has not run again yet
    admission.leave()  # then the request in flight ends
    assert (admission.in_flight, admission.queued) == (0, 0)
    assert admission.try_enter(), "nobody waits: the slot is not kept for a request that was turned away"
    with pytest.raises(Overloaded, match="no free slot"):
        await late[0]


async def test_without_a_limit_every_request_enters() -> None:
    admission = Admission(AdmissionLimits(max_in_flight=0))
    assert all(admission.try_enter() for _ in range(10_000))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_in_flight": -1}, "max_in_flight=-1: must be a whole number, 0 or more"),
        ({"max_queue": 1.5}, "max_queue=1.5: must be a whole number, 0 or more"),
        ({"queue_timeout": 0}, "queue_timeout=0: must be a positive number of seconds"),
    ],
)
def test_bad_limits_are_refused(limits: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AdmissionLimits(**limits)  # type: ignore[arg-type]
