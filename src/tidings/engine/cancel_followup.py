"""Writing out batch cancels after their answer (store/schedule.py `follow_up_cancel`).

A batch cancel decides in one update of its messages and answers; the DELETED status of each of
their channels, its event and webhook, and the removal of their timers follow here, a chunk per
transaction, so a cancel of 100 000 never holds the database for seconds. Woken by each batch
cancel that left work; every `every_s` it also looks for what a stopped process left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tidings.core.dispatch import StatusChange
from tidings.engine.clock import Clock
from tidings.store.base import Store
from tidings.store.errors import log_failure

log = logging.getLogger(__name__)

CATCH_UP_EVERY_S = 60.0


class CancelFollowUp:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        on_changes: Callable[[list[StatusChange]], Awaitable[None]],
        every_s: float = CATCH_UP_EVERY_S,
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_changes = on_changes
        self._every_s = every_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="batch-cancel-followup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> None:
        """Write out every batch cancel waiting (those another process is writing excepted)."""
        while True:
            changes, found = await self._store.schedule.follow_up_cancel()
            if changes:
                await self._on_changes(changes)
            if not found:
                return

    async def _run(self) -> None:
        while True:
            try:
                self._wake.clear()
                await self.drain()
                await self._clock.wait(self._wake, self._every_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log_failure(log, "action=batch_cancel_followup_failed")
                await self._clock.sleep(1.0)
