"""The sandbox connector against a real database: a delivery is reported only once its inbox row
is committed. A database trigger refuses the rows of one recipient, on each backend, so one
message of a batch cannot be written while the others can."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import orjson
import pytest

from tests.waiting import async_value, wait_until_async
from tidings.channels.sandbox import SandboxConnector, SandboxTiming
from tidings.core.dispatch import Outcome, Report, SendJob
from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.urls import parse_database_url

REFUSED_TO = "+37255000666"

_PG_TRIGGER = f"""
CREATE FUNCTION refuse_inbox_row() RETURNS trigger AS $$
BEGIN
  IF NEW.to_number = '{REFUSED_TO}' THEN RAISE EXCEPTION 'inbox row refused'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_inbox_row BEFORE INSERT ON sandbox_messages
  FOR EACH ROW EXECUTE FUNCTION refuse_inbox_row();
"""
_SQLITE_TRIGGER = f"""
CREATE TRIGGER refuse_inbox_row BEFORE INSERT ON sandbox_messages
WHEN NEW.to_number = '{REFUSED_TO}' BEGIN SELECT RAISE(ABORT, 'inbox row refused'); END;
"""


@pytest.fixture
async def refusing_store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store whose database refuses sandbox inbox rows to REFUSED_TO."""
    url = parse_database_url(database_url)
    store = await open_store(url)
    try:
        if url.sqlite_path is not None:
            with sqlite3.connect(url.sqlite_path) as db:
                db.executescript(_SQLITE_TRIGGER)
        else:
            conn = await asyncpg.connect(url.asyncpg_dsn)
            try:
                await conn.execute(_PG_TRIGGER)
            finally:
                await conn.close()
        yield store
    finally:
        await store.close()


def job(message_id: str, to: str, channel: str = "sms") -> SendJob:
    text = f"hello {message_id}"
    content = orjson.dumps({"text": {"body": text} if channel == "whatsapp" else text}).decode()
    return SendJob(
        1, 1, 0, f"omni-{message_id}", 1, to, message_id, 0, channel, "Tidings", 60, content
    )


async def test_a_delivery_is_reported_only_once_its_inbox_row_is_written(
    refusing_store: Store,
) -> None:
    reports: list[Report] = []
    sandbox = SandboxConnector(
        refusing_store,
        lambda: time.time_ns() // 1000,
        SandboxTiming(delivery_delay_s=0.01, seen_delay_s=0.01, catch_up_s=3600),
    )
    await sandbox.start(reports.append)
    try:
        jobs = [
            job("m-first", "+37255000001"),
            job("m-refused", REFUSED_TO),
            job("m-read", "+447700900100", "whatsapp"),  # delivered, then read
        ]
        outcomes = {o.job.message_id: o for o in await sandbox.send(jobs)}

        # The refused row: no acknowledgement, retried later, never reported delivered.
        refused = outcomes["m-refused"]
        assert refused.outcome == Outcome.RETRY and refused.status is None
        assert refused.retry_at_us is not None
        for mid in ("m-first", "m-read"):
            assert (outcomes[mid].outcome, outcomes[mid].status) == (Outcome.ACCEPTED, "ACK")

        # The others are in the inbox and reported; all receipts of a batch share one timer,
        # so once theirs have come, a report for the refused row would have come too.
        expected = {("m-first", "DELIVRD"), ("m-read", "DELIVRD"), ("m-read", "SEEN")}
        await wait_until_async(
            async_value(lambda: {(r.message_id, r.status) for r in reports} >= expected),
            "the written rows' reports",
            10,
        )
        assert "m-refused" not in {r.message_id for r in reports}
        assert await refusing_store.sandbox.has(["m-first", "m-refused", "m-read"]) == {
            "m-first",
            "m-read",
        }
    finally:
        await sandbox.stop()
