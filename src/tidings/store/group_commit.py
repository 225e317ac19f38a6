"""Group commit: callers that write at the same time share one transaction.

Each caller still returns only after its own request is committed, so "returned" keeps meaning
"on disk"; under load many callers share one commit (and one fsync) instead of queueing for the
writer one transaction each. If a shared transaction fails, each request is retried on its own so
that one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")
log = logging.getLogger("tidings.store")


def _one(_: object) -> int:
    return 1


class GroupCommit(Generic[Req, Res]):
    def __init__(
        self,
        name: str,
        write: Callable[[Sequence[Req]], Awaitable[Sequence[Res]]],
        max_batch: int = 5000,
        size: Callable[[Req], int] = _one,
        in_flight: int = 1,
    ) -> None:
        """`write(requests)` commits them in one transaction and returns one result each;
        a batch holds requests of total `size` up to `max_batch` (at least one request).
        `in_flight`: how many such transactions may run at once (a request arriving while
        fewer are under way starts one at once)."""
        self._name = name
        self._write = write
        self._max = max_batch
        self._size = size
        self._pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = in_flight

    async def add(self, request: Req) -> Res:
        """Commit `request`, together with whatever else is waiting; its result once committed."""
        fut: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._pending.append((request, fut))
        # A finished task leaves the set only when its done-callbacks run, a loop turn later;
        # counted until then, it would leave this request with no task to write it.
        self._tasks = {t for t in self._tasks if not t.done()}
        if len(self._tasks) < self._in_flight:
            self._tasks.add(asyncio.create_task(self._flush(), name=f"{self._name}-commit"))
        return await fut

    async def _flush(self) -> None:
        while self._pending:
            batch: list[tuple[Req, asyncio.Future[Res]]] = []
            count = 0
            while self._pending and (
                not batch or count + self._size(self._pending[0][0]) <= self._max
            ):
                req, fut = self._pending.pop(0)
                batch.append((req, fut))
                count += self._size(req)
            try:
                results = await self._write([req for req, _ in batch])
            except Exception:
                log.warning("action=%s_group_commit_split size=%d", self._name, len(batch))
                for req, fut in batch:
                    try:
                        (result,) = await self._write([req])
                    except Exception as exc:
                        if not fut.done():
                            fut.set_exception(exc)
                    else:
                        if not fut.done():
                            fut.set_result(result)
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
