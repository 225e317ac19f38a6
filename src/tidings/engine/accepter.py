"""Group commit for new omnimessages: requests arriving together share one transaction.

Each caller still gets its answer only after its rows are committed, so a 201 always means
"on disk"; under load, many requests share one commit (and one fsync).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from tidings.store.base import Store
from tidings.store.records import NewOmnimessage

log = logging.getLogger("tidings.engine")


class Accepter:
    def __init__(
        self, store: Store, on_committed: Callable[[int], None], max_batch: int = 5000
    ) -> None:
        self._store = store
        self._on_committed = on_committed
        self._max = max_batch
        self._pending: list[tuple[Sequence[NewOmnimessage], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, items: Sequence[NewOmnimessage]) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((items, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        while self._pending:
            batch: list[tuple[Sequence[NewOmnimessage], asyncio.Future[None]]] = []
            count = 0
            while self._pending and (not batch or count + len(self._pending[0][0]) <= self._max):
                items, fut = self._pending.pop(0)
                batch.append((items, fut))
                count += len(items)
            rows = [i for items, _ in batch for i in items]
            try:
                await self._store.insert_omnimessages(rows)
            except Exception:
                # One bad request must not fail its neighbours: commit each on its own.
                log.warning("action=group_commit_split size=%d", len(batch))
                for items, fut in batch:
                    try:
                        await self._store.insert_omnimessages(items)
                    except Exception as exc:
                        if not fut.done():
                            fut.set_exception(exc)
                    else:
                        self._done(items, fut)
                continue
            for items, fut in batch:
                self._done(items, fut)

    def _done(self, items: Sequence[NewOmnimessage], fut: asyncio.Future[None]) -> None:
        if items:
            self._on_committed(min(i.due_us for i in items))
        if not fut.done():
            fut.set_result(None)
