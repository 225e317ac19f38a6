"""The engine over a real store: a receipt that overtakes the connector's answer.

The connector's answer is recorded in the background (batched), so a fast receipt can reach the
store first. The answer's own status (ACK) must still be recorded, and reported, before it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from tests.waiting import async_value, wait_until_async
from tidings.channels.port import ReportSink
from tidings.channels.router import Router
from tidings.core.dispatch import Outcome, StatusChange
from tidings.core.model import CHANNELS
from tidings.engine.service import Engine
from tidings.store.base import Store
from tidings.store.records import NewChannelMessage, NewOmnimessage, Report, SendJob, SendOutcome


class FastReceipts:
    """A connector whose delivery receipt arrives before its own answer returns."""

    name = "fast"

    def __init__(self) -> None:
        self._reports: ReportSink | None = None

    async def start(self, reports: ReportSink) -> None:
        self._reports = reports

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        assert self._reports is not None
        for j in jobs:
            self._reports(Report(j.message_id, "DELIVRD", 0, None, j.due_us + 1))
        await asyncio.sleep(0.2)  # the receipt's batch is recorded meanwhile
        return [
            SendOutcome(j, Outcome.ACCEPTED, self.name, j.message_id, status="ACK") for j in jobs
        ]

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        return {}

    async def stop(self) -> None:
        self._reports = None  # no receipts after a stop


async def test_answer_status_is_reported_before_an_overtaking_receipt(store: Store) -> None:
    account = await store.accounts.create("alice", "hash", "AliceCo", "secret")
    fast = FastReceipts()
    engine = Engine(store, Router(dict.fromkeys(CHANNELS, fast)))
    seen: list[tuple[str, str]] = []

    async def capture(changes: list[StatusChange]) -> None:
        seen.extend((c.message_id, c.status) for c in changes)

    engine.dispatcher.on_changes = capture
    engine.reports.on_changes = capture
    now = await store.now_us()
    msg = NewChannelMessage(str(uuid.uuid4()), "sms", "AliceCo", 60, '{"text": "hi"}')
    await store.messages.insert(
        [
            NewOmnimessage(
                id=str(uuid.uuid4()),
                account_id=account.id,
                to="+37251000000",
                priority=1,
                time_to_send_us=now,
                due_us=now,
                dlr_url=None,
                text_store="plaintext",
                created_us=now,
                channels=(msg,),
            )
        ]
    )
    await engine.start()
    try:
        await wait_until_async(async_value(lambda: len(seen) >= 2), "two reports", 5)
    finally:
        await engine.stop()
    assert seen == [(msg.id, "ACK"), (msg.id, "DELIVRD")]
