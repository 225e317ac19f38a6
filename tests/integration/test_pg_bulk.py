"""Batches on both backends: PostgreSQL runs a batch as its statement's `unnest` form
(sql/postgresql.sql), which must agree with row by row (SQLite's executemany)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_store import omni
from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.queries import QUERIES
from tidings.store.records import SandboxMessage
from tidings.store.urls import parse_database_url


def _sandbox(message_id: str, omni_id: str, at_us: int) -> SandboxMessage:
    return SandboxMessage(message_id, omni_id, 1, "sms", "+3725555", "Alice", "hi", "{}", at_us)


@pytest.mark.postgres
async def test_unnest_forms_take_their_statements_parameter_types(pg_database: str) -> None:
    """Each `name.unnest` reads one array per parameter of `name`, of the type PostgreSQL infers
    for that parameter in the one-row statement."""
    store = await open_store(parse_database_url(pg_database))
    try:
        pool: Any = store._pool  # type: ignore[attr-defined]
        async with pool.acquire() as conn:
            for q in QUERIES.values():
                if q.unnest is None:
                    continue
                one = [t.name for t in (await conn.prepare(q.postgresql)).get_parameters()]
                many = [t.name for t in (await conn.prepare(q.unnest)).get_parameters()]
                assert many == [f"{t}[]" for t in one], q.name
    finally:
        await store.close()


async def test_a_batch_agrees_with_row_by_row(store: Store) -> None:
    t = await store.now_us()
    account = await store.accounts.create("alice", "hash", "Alice", "secret")
    m1, m2 = omni(account.id, t + 3600_000_000), omni(account.id, t + 3600_000_000)
    await store.messages.insert([m1, m2])  # set-based on PostgreSQL: distinct rows
    ids = [m1.channels[0].id, m2.channels[0].id]
    # A message handed over twice in one batch: the batch repeats its key, so it runs row by
    # row (set-based, ON CONFLICT DO UPDATE would refuse to touch a row twice).
    await store.sandbox.insert(
        [_sandbox(ids[0], m1.id, t), _sandbox(ids[1], m2.id, t), _sandbox(ids[0], m1.id, t)]
    )
    await store.sandbox.insert([_sandbox(ids[1], m2.id, t + 1)])  # set-based: one row
    handovers = {}
    for m in (m1, m2):
        timeline = await store.console.timeline(account.id, m.id)
        assert timeline is not None
        handovers.update({d.message_id: d.handovers for d in timeline.deliveries})
    assert handovers == {ids[0]: 2, ids[1]: 2}
    assert await store.sandbox.has([*ids, "nope"]) == set(ids)
