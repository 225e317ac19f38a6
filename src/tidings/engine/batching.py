"""A queue drained in batches by one background task: many small writes become few transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from tidings.store.errors import log_failure

T = TypeVar("T")
log = logging.getLogger("tidings.engine")


class BatchWorker(Generic[T]):
    def __init__(
        self, name: str, process: Callable[[list[T]], Awaitable[None]], max_batch: int = 2000
    ) -> None:
        self._name = name
        self._process = process
        self._max = max_batch
        self._queue: list[T] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: T) -> None:
        self.submit_many((item,))

    def submit_many(self, items: Iterable[T]) -> None:
        self._queue.extend(items)
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                try:
                    await self._process(batch)
                except Exception:
                    # Keep the items (nothing is dropped) and try again shortly.
                    log_failure(log, "action=%s_failed count=%d", self._name, len(batch))
                    self._queue[:0] = batch
                    await asyncio.sleep(0.5)
            if not self._queue:
                self._idle.set()

    async def drain(self, wait_s: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), wait_s)
        except TimeoutError:
            log.warning("action=%s_drain_timeout left=%d", self._name, len(self._queue))

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
