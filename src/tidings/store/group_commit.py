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
    ) -> None:
        """`write(requests)` commits them in one transaction and returns one result each;
        a batch holds requests of total `size` up to `max_batch` (at least one request)."""
        self._name = name
        self._write = write
        self._max = max_batch
        self._size = size
        self._pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, request: Req) -> Res:
        """Commit `request`, together with whatever else is waiting; its result once committed."""
        fut: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._pending.append((request, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name=f"{self._name}-commit")
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
