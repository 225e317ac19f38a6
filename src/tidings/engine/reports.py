"""Collects delivery reports from connectors and records them in batches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from tidings.core.dispatch import Report, StatusChange
from tidings.engine.batching import BatchWorker
from tidings.engine.clock import Clock
from tidings.engine.metrics import EngineMetrics
from tidings.store.base import Store

ChangeSink = Callable[[list[StatusChange]], Awaitable[None]]
AnswerWait = Callable[[Iterable[str]], Awaitable[None]]


class ReportRecorder:
    def __init__(
        self, store: Store, clock: Clock, metrics: EngineMetrics, max_batch: int = 2000
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self.on_changes: ChangeSink | None = None
        # Set by the engine: waits until the connector answers for these messages are recorded,
        # so a receipt that overtakes the answer cannot hide the answer's own status.
        self.wait_for_answers: AnswerWait | None = None
        self._worker: BatchWorker[Report] = BatchWorker("reports", self._record, max_batch)

    def submit(self, report: Report) -> None:
        self._worker.submit(report)

    def start(self) -> None:
        self._worker.start()

    async def _record(self, batch: list[Report]) -> None:
        if self.wait_for_answers is not None:
            await self.wait_for_answers(r.message_id for r in batch)
        changes = await self._store.attempts.apply_reports(batch, self._clock.now_us())
        for ch in changes:
            self._metrics.reports.labels(ch.status).inc()
        if changes and self.on_changes is not None:
            await self.on_changes(changes)

    async def drain(self, wait_s: float = 5.0) -> None:
        await self._worker.drain(wait_s)

    async def stop(self) -> None:
        await self._worker.stop()
