"""Store operations behind authentication, on both backends: account versions, console
sessions, version-checked inserts, sign-in back-off rows and shared token buckets."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.test_store import S, omni
from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.queries import adhoc
from tidings.store.records import ThrottleRow
from tidings.store.urls import parse_database_url


async def test_every_change_bumps_the_version_and_a_new_password_ends_sessions(
    store: Store,
) -> None:
    a = await store.accounts.create("alice", "hash-1", "Alice", "secret")
    b = await store.accounts.create("bob", "hash-b", "Bob", "secret")
    assert a.version == 1
    now = await store.now_us()
    for token in ("s1", "s2"):
        await store.sessions.create(token, a.id, now, now + 3600 * S)
    await store.sessions.create("sb", b.id, now, now + 3600 * S)

    changed = await store.accounts.update("alice", default_sender="New")
    assert changed is not None and changed.version == 2 and changed.default_sender == "New"
    assert await store.sessions.account("s1", now) is not None  # a new sender ends nothing
    assert await store.accounts.versions([a.id, b.id]) == {a.id: 2, b.id: 1}

    changed = await store.accounts.update("alice", password_hash="hash-2")
    assert changed is not None and changed.version == 3
    assert await store.sessions.account("s1", now) is None
    assert await store.sessions.account("s2", now) is None
    assert await store.sessions.account("sb", now) == b

    await store.sessions.create("s3", a.id, now, now + 3600 * S)
    assert await store.accounts.remove("alice")
    assert await store.sessions.account("s3", now) is None
    assert await store.accounts.versions([a.id]) == {}
    assert await store.accounts.versions([a.id, b.id]) == {b.id: 1}


async def test_sessions_expire_and_end(store: Store) -> None:
    a = await store.accounts.create("alice", "hash", "Alice", "secret")
    now = await store.now_us()
    await store.sessions.create("old", a.id, now - 10 * S, now - S)
    await store.sessions.create("live", a.id, now, now + 60 * S)
    assert await store.sessions.account("old", now) is None
    found = await store.sessions.account("live", now)
    assert found is not None and found.username == "alice"
    assert await store.sessions.account("live", now + 60 * S) is None  # expired by then
    async with store.read() as tx:  # creating a session pruned the expired one
        assert [r[0] for r in await tx.fetch(adhoc("SELECT token_hash FROM console_sessions"))] == [
            "live"
        ]
    assert await store.sessions.end("live")
    assert not await store.sessions.end("live")
    assert await store.sessions.account("live", now) is None


async def test_an_insert_leaves_out_accounts_that_changed(store: Store) -> None:
    a = await store.accounts.create("alice", "hash", "Alice", "secret")
    b = await store.accounts.create("bob", "hash", "Bob", "secret")
    t = await store.now_us()
    mine, bobs, bobs_unchecked = omni(a.id, t), omni(b.id, t), omni(b.id, t)
    assert await store.messages.insert([mine, bobs], {a.id: 1, b.id: 1}) == set()
    await store.accounts.update("bob", password_hash="other")
    later = [omni(a.id, t), omni(b.id, t)]
    assert await store.messages.insert(later, {a.id: 1, b.id: 1}) == {b.id}
    assert await store.messages.get(a.id, later[0].id) is not None
    assert await store.messages.get(b.id, later[1].id) is None
    await store.accounts.remove("alice")
    assert await store.messages.insert([omni(a.id, t)], {a.id: 1}) == {a.id}
    assert await store.messages.insert([bobs_unchecked]) == set()
    assert await store.messages.get(b.id, bobs_unchecked.id) is not None


async def test_throttle_rows_update_atomically_and_are_pruned(store: Store) -> None:
    def bump(now: int) -> object:
        def decide(rows: object) -> list[ThrottleRow]:
            assert isinstance(rows, dict)
            out = []
            for key in ("c:x", "a:y"):
                n = rows[key].failures + 1 if key in rows else 1
                out.append(ThrottleRow(key, n, now + n, now + 100))
            return out

        return decide

    await asyncio.gather(
        *(store.limits.throttle_update(("c:x", "a:y"), bump(1000)) for _ in range(5))  # type: ignore[arg-type]
    )
    rows = await store.limits.throttle_rows(["c:x", "a:y", "u:none"])
    assert {k: r.failures for k, r in rows.items()} == {"c:x": 5, "a:y": 5}
    assert rows["c:x"] == ThrottleRow("c:x", 5, 1005, 1100)
    assert await store.limits.throttle_prune(1100) == 0
    assert await store.limits.throttle_prune(1101) == 2
    assert await store.limits.throttle_rows(["c:x"]) == {}


async def test_a_shared_bucket_never_grants_more_than_it_holds(
    store: Store, database_url: str
) -> None:
    a = await store.accounts.create("alice", "hash", "Alice", "secret")
    other = await open_store(parse_database_url(database_url))  # a second process's store
    try:
        t = 1_000 * S
        grants = await asyncio.gather(
            *(s.limits.take_tokens(a.id, 3, 1.0, 10, t) for s in (store, other) for _ in range(5))
        )
        assert sum(g.granted for g in grants) == pytest.approx(10)
        assert all(g.granted in (0, 1, 3) for g in grants)
        empty = await store.limits.take_tokens(a.id, 3, 1.0, 10, t)
        assert empty.granted == 0 and empty.left == pytest.approx(0)
        # Refilled at 1 token a second; a clock behind the bucket's refills nothing.
        assert (
            await other.limits.take_tokens(a.id, 3, 1.0, 10, t + 2 * S)
        ).granted == pytest.approx(2)
        assert (await store.limits.take_tokens(a.id, 3, 1.0, 10, t)).granted == 0
        half = await store.limits.take_tokens(a.id, 3, 1.0, 10, t + 2 * S + S // 2)
        assert half.granted == 0 and half.left == pytest.approx(0.5)
        # Never above the burst, however long the bucket was left alone.
        assert (await store.limits.take_tokens(a.id, 50, 1.0, 10, t + 3600 * S)).granted == 10
    finally:
        await other.close()
