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
