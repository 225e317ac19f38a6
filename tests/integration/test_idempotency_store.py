"""The Idempotency-Key port (store.idempotency) on both backends: claim, finish, release,
expiry, stale take-over, purge, and the answer recorded in the transaction that stores the
messages (all or nothing)."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.test_store import omni
from tidings.store.base import Store
from tidings.store.idempotency import Claimed, KeyLost
from tidings.store.queries import adhoc
from tidings.store.records import KeyAnswer, KeyRow

S = 1_000_000
DAY = 24 * 3600 * S
T = 1_800_000_000 * S  # a fixed "now": the port takes every time from its caller


async def claim(
    store: Store, key: str, token: int, *, now: int = T, h: str = "h1", account: int = 1
) -> Claimed | KeyRow:
    return await store.idempotency.claim(
        account, key, h, token, now, expired_before=now - DAY, stale_before=now - 60 * S
    )


def answer(key: str, token: int, body: bytes = b'{"ok":1}', account: int = 1) -> KeyAnswer:
    return KeyAnswer(account, key, token, 201, '[["content-type","application/json"]]', body)


async def omnimessage_count(store: Store) -> int:
    async with store.read() as tx:
        rows = await tx.fetch(adhoc("SELECT count(*) AS n FROM omnimessages"))
    return int(rows[0]["n"])


async def test_claim_then_repeat_then_finish(store: Store) -> None:
    assert await claim(store, "k", 11) == Claimed(11)
    again = await claim(store, "k", 12, h="other")
    assert isinstance(again, KeyRow)
    assert (again.state, again.token, again.request_hash, again.status) == (
        "pending",
        11,
        "h1",
        None,
    )
    await store.idempotency.finish(answer("k", 11))
    done = await store.idempotency.get(1, "k")
    assert done is not None and done.state == "done" and done.status == 201
    assert done.body == b'{"ok":1}' and done.headers == '[["content-type","application/json"]]'
    assert await claim(store, "k", 13) == done  # answered: never claimed again within 24 h


async def test_keys_are_per_account(store: Store) -> None:
    assert await claim(store, "k", 1, account=1) == Claimed(1)
    assert await claim(store, "k", 2, account=2) == Claimed(2)
    assert await store.idempotency.get(3, "k") is None


async def test_release_frees_only_a_pending_claim_of_its_holder(store: Store) -> None:
    assert await claim(store, "k", 1) == Claimed(1)
    await store.idempotency.release(1, "k", 999)  # not the holder: nothing happens
    assert isinstance(await claim(store, "k", 2), KeyRow)
    await store.idempotency.release(1, "k", 1)
    assert await store.idempotency.get(1, "k") is None
    assert await claim(store, "k", 3) == Claimed(3)
    await store.idempotency.finish(answer("k", 3))
    await store.idempotency.release(1, "k", 3)  # done: kept
    row = await store.idempotency.get(1, "k")
    assert row is not None and row.state == "done"


async def test_an_expired_key_is_claimed_anew(store: Store) -> None:
    assert await claim(store, "k", 1) == Claimed(1)
    await store.idempotency.finish(answer("k", 1))
    assert isinstance(await claim(store, "k", 2, now=T + DAY - S), KeyRow)
    assert await claim(store, "k", 2, now=T + DAY + 1, h="new") == Claimed(2)
    row = await store.idempotency.get(1, "k")
    assert row is not None and (row.state, row.request_hash, row.body) == ("pending", "new", None)


async def test_a_stale_claim_is_taken_over_and_its_holder_cannot_finish(store: Store) -> None:
    assert await claim(store, "k", 1) == Claimed(1)
    assert isinstance(await claim(store, "k", 2, now=T + 59 * S), KeyRow)  # still fresh
    assert await claim(store, "k", 2, now=T + 61 * S) == Claimed(2)
    with pytest.raises(KeyLost):
        await store.idempotency.finish(answer("k", 1))
    await store.idempotency.finish(answer("k", 2, b"second"))
    row = await store.idempotency.get(1, "k")
    assert row is not None and row.body == b"second"


async def test_the_answer_is_stored_with_the_messages(store: Store) -> None:
    assert await claim(store, "k", 1) == Claimed(1)
    m = omni(1, T)
    await store.messages.insert([m], None, [answer("k", 1, b"sent")])
    row = await store.idempotency.get(1, "k")
    assert row is not None and row.state == "done" and row.body == b"sent"
    assert await omnimessage_count(store) == 1


async def test_a_lost_claim_stores_no_messages(store: Store) -> None:
    assert await claim(store, "k", 1) == Claimed(1)
    assert await claim(store, "k", 2, now=T + 61 * S) == Claimed(2)  # taken over
    with pytest.raises(KeyLost):
        await store.messages.insert(
            [omni(1, T), omni(1, T)], None, [answer("k", 1, b"first holder")]
        )
    assert await omnimessage_count(store) == 0
    row = await store.idempotency.get(1, "k")
    assert row is not None and (row.state, row.token) == ("pending", 2)


async def test_a_stale_account_leaves_out_its_answer_too(store: Store) -> None:
    account = await store.accounts.create("alice", "hash", "Sender", "secret")
    assert await claim(store, "k", 1, account=account.id) == Claimed(1)
    stale = await store.messages.insert(
        [omni(account.id, T)],
        {account.id: account.version + 1},
        [answer("k", 1, account=account.id)],
    )
    assert stale == {account.id}
    assert await omnimessage_count(store) == 0
    row = await store.idempotency.get(account.id, "k")
    assert row is not None and row.state == "pending"


async def test_purge_forgets_keys_older_than_the_cut(store: Store) -> None:
    assert await claim(store, "old", 1, now=T - DAY - S) == Claimed(1)
    assert await claim(store, "new", 2) == Claimed(2)
    assert await store.idempotency.purge(T - DAY) == 1
    assert await store.idempotency.get(1, "old") is None
    assert await store.idempotency.get(1, "new") is not None


async def test_concurrent_first_claims_one_wins(store: Store) -> None:
    results = await asyncio.gather(*(claim(store, "race", t) for t in range(1, 21)))
    winners = [r for r in results if isinstance(r, Claimed)]
    assert len(winners) == 1
    assert all(r.token == winners[0].token for r in results if isinstance(r, KeyRow))
