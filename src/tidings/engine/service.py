"""The engine as the API and CLI use it: accept, cancel, read status; and its lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from tidings.channels.router import Router
from tidings.core.dispatch import StatusChange
from tidings.core.model import FINAL_FAILURE, PRIORITIES, Limits, OmnimessageRequest
from tidings.engine.accepter import Accepter
from tidings.engine.clock import Clock, SystemClock
from tidings.engine.dispatcher import Dispatcher, DispatchSettings
from tidings.engine.metrics import EngineMetrics
from tidings.engine.outbox import WebhookOutbox
from tidings.engine.reports import ReportRecorder
from tidings.store.base import Store
from tidings.store.group_commit import GroupCommit
from tidings.store.records import (
    Account,
    CancelResult,
    NewChannelMessage,
    NewOmnimessage,
    OmniView,
)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    limits: Limits = field(default_factory=Limits)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    dispatch_enabled: bool = True


class Engine:
    def __init__(
        self,
        store: Store,
        router: Router,
        settings: EngineSettings | None = None,
        metrics: EngineMetrics | None = None,
        clock: Clock | None = None,
        outbox: Callable[[Store, Clock], WebhookOutbox] | None = None,
    ) -> None:
        self.store = store
        self.router = router
        self.settings = settings or EngineSettings()
        self.metrics = metrics or EngineMetrics()
        self.clock: Clock = clock or SystemClock(store.now_us)
        self.reports = ReportRecorder(store, self.clock, self.metrics)
        self.dispatcher = Dispatcher(
            store,
            router,
            self.clock,
            self.metrics,
            self.settings.dispatch,
            on_changes=self._on_changes,
        )
        self.reports.on_changes = self._on_changes
        self.reports.wait_for_answers = self.dispatcher.answers_recorded
        self.accepter = Accepter(store, self.dispatcher.wake)
        # Concurrent cancels share one transaction (each still answered after its commit).
        self._cancels: GroupCommit[tuple[int, str], tuple[CancelResult, list[StatusChange]]] = (
            GroupCommit("cancel", store.cancel_omnimessages, 500)
        )
        self.outbox = outbox(store, self.clock) if outbox is not None else None
        self._started = False

    async def start(self) -> None:
        self.reports.start()
        await self.router.start(self.reports.submit)
        if self.outbox is not None:
            await self.outbox.start()
        if self.settings.dispatch_enabled:
            await self.dispatcher.start()
            # Other processes' inserts wake this dispatcher (PostgreSQL LISTEN/NOTIFY).
            await self.store.listen(self.dispatcher.wake)
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        if self.settings.dispatch_enabled:
            await self.dispatcher.stop()
        await self.reports.stop()
        await self.router.stop()
        if self.outbox is not None:
            await self.outbox.stop()
        self._started = False

    async def _on_changes(self, changes: list[StatusChange]) -> None:
        """Status changes just committed (their webhooks are queued in the same transaction)."""
        if any(c.status in FINAL_FAILURE for c in changes):
            self.dispatcher.wake()  # a failed attempt released its timer for the next channel
        if self.outbox is not None and any(c.dlr_url for c in changes):
            self.outbox.wake()

    # -- API operations ---------------------------------------------------------------------

    def clock_now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now_us() / 1_000_000, UTC)

    def build(self, account: Account, req: OmnimessageRequest) -> NewOmnimessage:
        now = self.clock.now_us()
        tts = None
        if req.time_to_send is not None:
            tts = int(req.time_to_send.timestamp() * 1_000_000)
        return NewOmnimessage(
            id=str(uuid.uuid4()),
            account_id=account.id,
            to=req.to,
            priority=PRIORITIES[req.priority],
            time_to_send_us=tts,
            due_us=now if tts is None else max(tts, now),
            dlr_url=req.dlr_url or account.dlr_url,
            text_store=req.text_store,
            created_us=now,
            channels=tuple(
                NewChannelMessage(
                    id=str(uuid.uuid4()),
                    channel=m.channel,
                    sender=m.sender or account.default_sender,
                    validity_s=m.validity_s,
                    content=orjson.dumps(m.content).decode(),
                )
                for m in req.messages
            ),
        )

    async def accept(
        self, items: Sequence[NewOmnimessage], expect: tuple[int, int] | None = None
    ) -> None:
        """Commit new omnimessages durably; returns once they are on disk. `expect`: (account id,
        version) the account must still have, else `AccountChanged` and nothing is stored."""
        await self.accepter.add(items, expect)
        self.metrics.accepted.inc(len(items))

    async def cancel(self, account: Account, omni_id: str) -> CancelResult:
        result, changes = await self._cancels.add((account.id, omni_id))
        if result == CancelResult.CANCELLED:
            self.metrics.cancelled.inc()
            await self._on_changes(changes)
        return result

    async def status(self, account: Account, omni_id: str) -> OmniView | None:
        return await self.store.get_omnimessage(account.id, omni_id)
