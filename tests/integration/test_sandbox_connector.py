"""The sandbox connector over a real store: it reports only what its inbox really holds."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from tests.waiting import async_value, wait_until_async
from tidings.channels.sandbox import SandboxConnector, SandboxTiming
from tidings.core.dispatch import Outcome, Report, SendJob
from tidings.store.base import Store
from tidings.store.records import SandboxMessage


def _job(message_id: str) -> SendJob:
    return SendJob(
        1, 1, 0, f"omni-{message_id}", 1, "+37251000000", message_id, 0, "sms", "S", 60, "{}"
    )


async def test_a_delivery_the_inbox_could_not_store_is_never_reported(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database went away while the inbox row was written: that message is answered RETRY
    (it provably never reached the inbox, so sending it again is safe), and no DELIVRD follows
    for it (it was reported delivered regardless)."""
    reports: list[Report] = []
    sandbox = SandboxConnector(
        store, lambda: time.time_ns() // 1000, SandboxTiming(delivery_delay_s=0.01)
    )
    await sandbox.start(reports.append)
    try:
        real_insert = store.sandbox.insert

        async def connection_lost(items: Sequence[SandboxMessage]) -> None:
            raise ConnectionResetError("the database connection was lost")

        monkeypatch.setattr(store.sandbox, "insert", connection_lost)
        (lost,) = await sandbox.send([_job("lost")])
        assert lost.outcome == Outcome.RETRY
        monkeypatch.setattr(store.sandbox, "insert", real_insert)
        (outcome,) = await sandbox.send([_job("stored")])
        assert outcome.outcome == Outcome.ACCEPTED
        # The second message's report comes after the first one's would have (same delay).
        await wait_until_async(
            async_value(lambda: any(r.message_id == "stored" for r in reports)), "the report", 10
        )
        assert [(r.message_id, r.status) for r in reports] == [("stored", "DELIVRD")]
        assert await store.sandbox.has(["lost", "stored"]) == {"stored"}
    finally:
        await sandbox.stop()
