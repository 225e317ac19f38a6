"""Collects delivery reports from connectors and records them in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tidings.core.dispatch import Report, StatusChange
from tidings.engine.clock import Clock
from tidings.engine.metrics import EngineMetrics
from tidings.store.base import Store

log = logging.getLogger("tidings.engine")
ChangeSink = Callable[[list[StatusChange]], Awaitable[None]]


class ReportRecorder:
    def __init__(
        self, store: Store, clock: Clock, metrics: EngineMetrics, max_batch: int = 2000
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._max = max_batch
        self._queue: list[Report] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.on_changes: ChangeSink | None = None
        self._task: asyncio.Task[None] | None = None

    def submit(self, report: Report) -> None:
        self._queue.append(report)
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="report-recorder")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                try:
                    changes = await self._store.apply_reports(batch, self._clock.now_us())
                except Exception:
                    log.exception("action=reports_failed count=%d", len(batch))
                    self._queue[:0] = batch
                    await asyncio.sleep(0.5)
                    continue
                for ch in changes:
                    self._metrics.reports.labels(ch.status).inc()
                if changes and self.on_changes is not None:
                    await self.on_changes(changes)
            if not self._queue:
                self._idle.set()

    async def drain(self, wait_s: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), wait_s)
        except TimeoutError:
            log.warning("action=reports_drain_timeout left=%d", len(self._queue))

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
