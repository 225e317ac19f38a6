"""A batch cancel's write-out survives its process: an engine that starts finds the work a
stopped one left (its `batch_cancel_followups` row) and writes it out, webhooks included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tests.integration.test_store import omni, timers
from tests.waiting import wait_until_async
from tidings.channels.port import ReportSink
from tidings.channels.router import Router
from tidings.core.model import CHANNELS
from tidings.engine.service import Engine
from tidings.store.base import Store
from tidings.store.queries import adhoc
from tidings.store.records import SendJob, SendOutcome


class NothingSent:
    """A connector the test's cancelled messages must never reach."""

    name = "nothing"

    def __init__(self) -> None:
        self.sent: list[SendJob] = []

    async def start(self, reports: ReportSink) -> None:
        return None

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        self.sent.extend(jobs)
        raise AssertionError("a cancelled message was handed to a connector")

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        return {}

    async def stop(self) -> None:
        return None


async def _count(store: Store, sql: str, *args: object) -> int:
    async with store.read() as tx:
        rows = await tx.fetch(adhoc(sql), *args)
    return int(rows[0][0])


async def test_a_started_engine_writes_out_what_a_stopped_one_left(store: Store) -> None:
    account = await store.accounts.create("alice", "hash", "AliceCo", "secret")
    t = await store.now_us()
    ms = [
        replace(
            omni(account.id, t + 3600 * 1_000_000, channels=(("whatsapp", 60), ("sms", 60))),
            batch="camp",
            dlr_url="https://example.com/dlr",
        )
        for _ in range(30)
    ]
    await store.messages.insert(ms)
    # The cancel as a process answers it, then stops before writing anything out.
    result = await store.schedule.cancel_batch(account.id, "camp", whole_up_to=5)
    assert result.changed == 30 and result.following and result.changes == []
    assert await _count(store, "SELECT COUNT(*) FROM batch_cancel_followups") == 1
    assert await _count(store, "SELECT COUNT(*) FROM webhooks") == 0

    connector = NothingSent()
    engine = Engine(store, Router(dict.fromkeys(CHANNELS, connector)))
    await engine.start()
    try:

        async def written_out() -> bool:
            return await _count(store, "SELECT COUNT(*) FROM batch_cancel_followups") == 0

        await wait_until_async(written_out, "the write-out on start")
    finally:
        await engine.stop()

    deleted = await _count(
        store,
        "SELECT COUNT(*) FROM message_events WHERE kind = 'status' AND status = 'DELETED'",
    )
    assert deleted == 60
    assert await _count(store, "SELECT COUNT(*) FROM webhooks") == 60  # one report per channel
    for m in ms:
        view = await store.messages.get(account.id, m.id)
        assert view is not None and view.state == "cancelled"
        assert {c.status for c in view.channels} == {"DELETED"}
        assert await timers(store, m.id) == []
    assert connector.sent == []
