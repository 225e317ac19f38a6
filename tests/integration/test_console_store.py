"""The web console's store reads, against both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson

from tidings.store.base import Store
from tidings.store.queries import adhoc
from tidings.store.records import NewChannelMessage, NewOmnimessage, SandboxMessage

S = 1_000_000


def omni(
    account_id: int,
    due_us: int,
    *,
    to: str = "+3725550100",
    channels: Sequence[tuple[str, str]] = (("sms", "hello"),),
    created_us: int | None = None,
    dlr_url: str | None = None,
) -> NewOmnimessage:
    return NewOmnimessage(
        id=str(uuid.uuid4()),
        account_id=account_id,
        to=to,
        priority=1,
        time_to_send_us=due_us,
        due_us=due_us,
        dlr_url=dlr_url,
        text_store="plaintext",
        created_us=due_us if created_us is None else created_us,
        channels=tuple(
            NewChannelMessage(
                str(uuid.uuid4()),
                ch,
                "Tidings",
                3600,
                orjson.dumps(
                    {"text": {"body": text}} if ch == "whatsapp" else {"text": text}
                ).decode(),
            )
            for ch, text in channels
        ),
    )


async def accounts(store: Store) -> tuple[int, int]:
    a = await store.accounts.create("alice", "h", "Alice", "s1")
    b = await store.accounts.create("bob", "h", "Bob", "s2")
    return a.id, b.id


async def test_console_secret_is_created_once(store: Store) -> None:
    first = await store.console.secret("session-key", "aaaa")
    assert first == "aaaa"
    assert await store.console.secret("session-key", "bbbb") == "aaaa"
    assert await store.console.secret("other", "cccc") == "cccc"


async def test_scheduled_keyset_pages_soonest_first(store: Store) -> None:
    alice, bob = await accounts(store)
    t = await store.now_us() + 3600 * S
    mine = [omni(alice, t + (i // 2) * S) for i in range(7)]  # pairs share a due time
    await store.messages.insert([*mine, omni(bob, t)])
    expected = sorted(mine, key=lambda o: (o.due_us, o.id))
    seen: list[str] = []
    after: tuple[int, str] | None = None
    while True:
        page = await store.console.scheduled(alice, after=after, limit=3)
        seen.extend(o.id for o in page)
        if len(page) < 3:
            break
        after = (page[-1].due_us, page[-1].id)
    assert seen == [o.id for o in expected]
    first = (await store.console.scheduled(alice, limit=1))[0]
    assert first.channels[0].channel == "sms" and first.to == "+3725550100"


async def test_scheduled_filters(store: Store) -> None:
    alice, _ = await accounts(store)
    t = await store.now_us() + 3600 * S
    a = omni(alice, t, to="+3725550001", channels=(("whatsapp", "x"), ("sms", "x")))
    b = omni(alice, t + S, to="+3725550002", channels=(("sms", "y"),))
    c = omni(alice, t + 2 * S, to="+3725550001", channels=(("telegram", "z"),))
    await store.messages.insert([a, b, c])

    async def ids(**kw: object) -> list[str]:
        return [o.id for o in await store.console.scheduled(alice, **kw)]  # type: ignore[arg-type]

    assert await ids(to="+3725550001") == [a.id, c.id]
    assert await ids(channel="sms") == [a.id, b.id]  # any position in the chain
    assert await ids(channel="telegram") == [c.id]
    assert await ids(from_us=t + S) == [b.id, c.id]
    assert await ids(until_us=t + S) == [a.id]
    assert await ids(to="+3725550001", channel="sms", from_us=t, until_us=t + 3 * S) == [a.id]
    # Cancelled messages leave the queue.
    await store.messages.cancel(alice, b.id)
    assert await ids() == [a.id, c.id]


async def test_scheduled_query_walks_the_index(store: Store) -> None:
    if store.kind != "sqlite":
        return  # PostgreSQL's choice on tiny tables says nothing; SQLite's planner is fixed
    async with store.read() as tx:
        rows = await tx.fetch(
            adhoc(
                "EXPLAIN QUERY PLAN SELECT o.id FROM omnimessages o WHERE o.account_id = $1"
                " AND o.state = 'scheduled' AND (o.due_us, o.id) > ($2, $3)"
                " ORDER BY o.due_us, o.id LIMIT $4"
            ),
            1,
            0,
            "",
            10,
        )
    plan = " ".join(str(r[-1]) for r in rows)
    assert "omnimessages_scheduled_due" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort: the index gives the order


def sandbox(
    account_id: int, omni_id: str, to: str, at_us: int, text: str = "hi", channel: str = "sms"
) -> SandboxMessage:
    return SandboxMessage(
        str(uuid.uuid4()),
        omni_id,
        account_id,
        channel,
        to,
        "Tidings",
        text,
        orjson.dumps({"text": text}).decode(),
        at_us,
    )


async def test_inbox_newest_first_and_since(store: Store) -> None:
    alice, bob = await accounts(store)
    t = await store.now_us()
    msgs = [sandbox(alice, "o", f"+37255500{i % 3:02d}", t + i * S) for i in range(5)]
    await store.sandbox.insert([*msgs, sandbox(bob, "o", "+3725550000", t + 9 * S)])
    page1 = await store.console.inbox(alice, limit=2)
    assert [m.message_id for m in page1] == [msgs[4].message_id, msgs[3].message_id]
    last = page1[-1]
    page2 = await store.console.inbox(alice, before=(last.delivered_us, last.message_id), limit=10)
    assert [m.message_id for m in page2] == [m.message_id for m in reversed(msgs[:3])]
    since = await store.console.inbox_since(alice, t + 3 * S)
    assert [m.message_id for m in since] == [msgs[3].message_id, msgs[4].message_id]


async def test_timeline_with_reports_and_attempts(store: Store) -> None:
    alice, bob = await accounts(store)
    t = await store.now_us() + 3600 * S
    o = omni(
        alice,
        t,
        channels=(("viber", "v"), ("sms", "s")),
        dlr_url="https://hooks.example.com/dlr",
    )
    await store.messages.insert([o])
    await store.sandbox.insert([sandbox(alice, o.id, o.to, t, channel="viber")])
    await store.messages.cancel(alice, o.id)  # two DELETED reports queued
    now = await store.now_us()
    jobs = await store.outbox.claim("me", now + 1, now + 60 * S, 10)
    assert len(jobs) >= 1
    async with store.write() as tx:  # one recorded attempt, as the outbox writes it
        await tx.execute(
            adhoc(
                "INSERT INTO webhook_attempts (webhook_id, attempt, at_us, status_code, error,"
                " duration_ms) VALUES ($1, 1, $2, 204, NULL, 12.5)"
            ),
            jobs[0].id,
            now + 2,
        )
    tl = await store.console.timeline(alice, o.id)
    assert tl is not None
    assert [c.channel for c in tl.message.channels] == ["viber", "sms"]
    assert [c.status for c in tl.message.channels] == ["DELETED", "DELETED"]
    assert [d.channel for d in tl.deliveries] == ["viber"]
    assert len(tl.reports) == 2
    assert orjson.loads(tl.reports[0].body)["status"] == "DELETED"
    assert [(a.status_code, a.attempt) for a in tl.attempts] == [(204, 1)]
    assert await store.console.timeline(bob, o.id) is None  # another account's: not found
    assert await store.console.timeline(alice, str(uuid.uuid4())) is None


async def test_search_by_id_number_and_text(store: Store) -> None:
    alice, bob = await accounts(store)
    t = await store.now_us()
    a = omni(alice, t, to="+3725550001", channels=(("sms", "Lighthouse tour at 10"),))
    b = omni(alice, t + S, to="+3725550001", channels=(("whatsapp", "50% off, today_only"),))
    c = omni(alice, t + 2 * S, to="+3725550002", channels=(("sms", "500 off"),))
    d = omni(bob, t, to="+3725550001", channels=(("sms", "Lighthouse for bob"),))
    await store.messages.insert([a, b, c, d])

    async def ids(**kw: object) -> list[str]:
        return [o.id for o in await store.console.search(alice, **kw)]  # type: ignore[arg-type]

    assert await ids(omni_id=a.id) == [a.id]
    assert await ids(omni_id=d.id) == []  # bob's
    assert await ids(to="+3725550001") == [b.id, a.id]  # newest first, alice's only
    assert await ids(text="lighthouse") == [a.id]  # case-insensitive
    assert await ids(text="50%") == [b.id]  # % taken literally, so "500 off" does not match
    assert await ids(text="today_only") == [b.id]
    assert await ids(text="today-only") == []
    page = await store.console.search(alice, to="+3725550001", limit=1)
    rest = await store.console.search(
        alice, to="+3725550001", before=(page[0].created_us, page[0].id), limit=5
    )
    assert [o.id for o in page + rest] == [b.id, a.id]
