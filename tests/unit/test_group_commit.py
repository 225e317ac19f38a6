"""Group commit logic: batching, per-request results, isolation of a failing request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tidings.store.group_commit import GroupCommit


class Recorder:
    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.calls: list[list[int]] = []
        self.fail_on = fail_on or set()
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, requests: Sequence[int]) -> list[int]:
        self.calls.append(list(requests))
        await self.gate.wait()
        if self.fail_on & set(requests):
            raise ValueError("bad request in batch")
        return [r * 10 for r in requests]


async def test_concurrent_requests_share_one_write_and_get_their_own_results() -> None:
    rec = Recorder()
    rec.gate.clear()
    group: GroupCommit[int, int] = GroupCommit("t", rec.write)
    first = asyncio.create_task(group.add(1))
    await asyncio.sleep(0)  # the first write starts alone and waits on the gate
    rest = [asyncio.create_task(group.add(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await first == 10
    assert [await t for t in rest] == [20, 30, 40]
    assert rec.calls == [[1], [2, 3, 4]]  # the three that waited went together


async def test_a_failing_request_fails_alone() -> None:
    rec = Recorder(fail_on={3})
    rec.gate.clear()
    group: GroupCommit[int, int] = GroupCommit("t", rec.write)
    first = asyncio.create_task(group.add(1))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(group.add(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await first == 10
    assert await tasks[0] == 20
    with pytest.raises(ValueError):
        await tasks[1]
    assert await tasks[2] == 40
    assert rec.calls == [[1], [2, 3, 4], [2], [3], [4]]


async def test_batches_respect_the_size_limit() -> None:
    rec = Recorder()
    rec.gate.clear()
    group: GroupCommit[int, int] = GroupCommit("t", rec.write, max_batch=5, size=lambda r: r)
    first = asyncio.create_task(group.add(1))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(group.add(i)) for i in (2, 3, 4, 9)]
    await asyncio.sleep(0)
    rec.gate.set()
    await first
    assert [await t for t in tasks] == [20, 30, 40, 90]
    # 2+3 fit in 5; 4 alone; 9 is larger than the limit but a batch always takes one request
    assert rec.calls == [[1], [2, 3], [4], [9]]


async def _turns(n: int = 3) -> None:
    """Let the tasks just created run as far as they can (a request's task, then its write)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_with_two_in_flight_a_second_write_starts_while_the_first_waits() -> None:
    """`in_flight=2`: a request arriving during a write starts a second one at once instead of
    waiting for the first; a third waits, and goes with whatever else arrived."""
    rec = Recorder()
    rec.gate.clear()
    group: GroupCommit[int, int] = GroupCommit("t", rec.write, in_flight=2)
    first = asyncio.create_task(group.add(1))
    await _turns()
    second = asyncio.create_task(group.add(2))
    await _turns()
    assert rec.calls == [[1], [2]]  # both writes under way
    rest = [asyncio.create_task(group.add(i)) for i in (3, 4)]
    await _turns()
    assert rec.calls == [[1], [2]]  # no third write while two are in flight
    rec.gate.set()
    assert [await first, await second] == [10, 20]
    assert [await t for t in rest] == [30, 40]
    assert rec.calls == [[1], [2], [3, 4]]


async def test_a_request_right_after_a_write_finished_is_written() -> None:
    """A request arriving when the last write has just ended (its task done, the loop not yet
    past it) still gets a write of its own."""
    rec = Recorder()
    group: GroupCommit[int, int] = GroupCommit("t", rec.write, in_flight=1)
    assert await group.add(1) == 10
    assert await asyncio.wait_for(group.add(2), 5) == 20
    assert rec.calls == [[1], [2]]
