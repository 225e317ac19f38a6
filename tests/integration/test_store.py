"""Every store operation against both backends (SQLite and PostgreSQL).

Times passed to the engine operations are chosen by the test (`T` is the store's clock at the
start), so the scenarios are exact and need no sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence

import orjson
import pytest

from tidings.core.dispatch import Outcome
from tidings.core.report_payload import delivery_report
from tidings.store import attempts
from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.queries import adhoc
from tidings.store.records import (
    CancelResult,
    Claim,
    NewChannelMessage,
    NewOmnimessage,
    ProviderEventKey,
    Report,
    SandboxMessage,
    SendJob,
    SendOutcome,
)
from tidings.store.urls import parse_database_url

S = 1_000_000  # one second in microseconds
LEASE = 30 * S


def omni(
    account_id: int,
    due_us: int,
    *,
    priority: int = 1,
    channels: Sequence[tuple[str, int]] = (("sms", 60),),
) -> NewOmnimessage:
    return NewOmnimessage(
        id=str(uuid.uuid4()),
        account_id=account_id,
        to="+37251000000",
        priority=priority,
        time_to_send_us=due_us,
        due_us=due_us,
        dlr_url=None,
        text_store="plaintext",
        created_us=due_us,
        channels=tuple(
            NewChannelMessage(str(uuid.uuid4()), ch, "Sender", validity, '{"text": "hi"}')
            for ch, validity in channels
        ),
    )


async def timers(store: Store, ref: str) -> list[tuple[object, ...]]:
    async with store.read() as tx:
        rows = await tx.fetch(
            adhoc(
                "SELECT kind, due_us, state, lease_owner, lease_token, attempts FROM timers"
                " WHERE ref = $1"
            ),
            ref,
        )
    return [tuple(r) for r in rows]


async def claim(
    store: Store,
    horizon_us: int,
    *,
    limit: int = 100,
    owner: str = "w1",
    token: int = 1,
    lease_until_us: int | None = None,
) -> list[Claim]:
    until = lease_until_us if lease_until_us is not None else horizon_us + LEASE
    return await store.timers.claim_due(owner, token, horizon_us, limit, until)


async def sent(store: Store, t: int, *channels: tuple[str, int]) -> tuple[NewOmnimessage, SendJob]:
    """A message due at `t`, claimed and started: its first channel is `sending`."""
    m = omni(1, t, channels=channels or (("sms", 60),))
    await store.messages.insert([m])
    claims = await claim(store, t)
    fired = await store.attempts.start(claims, t)
    assert len(fired.sends) == 1
    return m, fired.sends[0]


# accounts


async def test_accounts_crud(store: Store) -> None:
    a = await store.accounts.create("alice", "hash-a", "AliceCo", "secret-a")
    b = await store.accounts.create("bob", "hash-b", "BobCo", "secret-b")
    assert a.id != b.id and a.dlr_url is None and a.created_us > 0
    assert await store.accounts.get("alice") == a
    assert await store.accounts.get("nobody") is None
    assert [x.username for x in await store.accounts.all()] == ["alice", "bob"]

    changed = await store.accounts.update("alice", default_sender="Alice2", dlr_url="https://x/y")
    assert changed is not None
    assert (changed.default_sender, changed.dlr_url, changed.password_hash) == (
        "Alice2",
        "https://x/y",
        "hash-a",
    )
    cleared = await store.accounts.update("alice", password_hash="hash-2", clear_dlr_url=True)
    assert cleared is not None and cleared.dlr_url is None and cleared.password_hash == "hash-2"
    assert await store.accounts.update("nobody", default_sender="X") is None

    assert await store.accounts.remove("bob") is True
    assert await store.accounts.remove("bob") is False
    assert [x.username for x in await store.accounts.all()] == ["alice"]


# messages


async def test_insert_and_get_is_per_account(store: Store) -> None:
    t = await store.now_us()
    m = omni(1, t + 10 * S, priority=2, channels=(("viber", 120), ("sms", 60)))
    await store.messages.insert([m])
    view = await store.messages.get(1, m.id)
    assert view is not None
    assert (view.id, view.account_id, view.state, view.priority, view.due_us, view.position) == (
        m.id,
        1,
        "scheduled",
        2,
        t + 10 * S,
        0,
    )
    assert [(c.id, c.position, c.channel, c.validity_s, c.state) for c in view.channels] == [
        (m.channels[0].id, 0, "viber", 120, "pending"),
        (m.channels[1].id, 1, "sms", 60, "pending"),
    ]
    assert await store.messages.get(2, m.id) is None  # another account's message
    assert await store.messages.get(1, "no-such-id") is None
    assert await timers(store, m.id) == [("send", t + 10 * S, "pending", None, None, 0)]


async def test_insert_leaves_out_the_items_of_a_changed_account(store: Store) -> None:
    """The accept path's account check: the items of an account whose version moved on since
    the caller read it (or that is gone) are not stored, and its id is returned; the other
    accounts' items are stored with their timers."""
    a = await store.accounts.create("carol", "h", "CarolCo", "s")
    b = await store.accounts.create("dave", "h", "DaveCo", "s")
    t = await store.now_us()
    ma, mb, gone = omni(a.id, t + S), omni(b.id, t + S), omni(9999, t + S)
    expect = {a.id: a.version, b.id: b.version + 1, 9999: 1}
    assert await store.messages.insert([ma, mb, gone], expect) == {b.id, 9999}
    assert await store.messages.get(a.id, ma.id) is not None
    assert len(await timers(store, ma.id)) == 1
    for m in (mb, gone):
        assert await store.messages.get(m.account_id, m.id) is None
        assert await timers(store, m.id) == []
    mc = omni(b.id, t + S)
    assert await store.messages.insert([mc], {b.id: b.version}) == set()
    assert await store.messages.get(b.id, mc.id) is not None


async def test_a_failed_insert_stores_nothing(store: Store) -> None:
    """An insert is all or nothing: a channel id already taken fails it, and neither the
    omnimessage, nor its other channels, nor its timer is left behind."""
    a = await store.accounts.create("erin", "h", "ErinCo", "s")
    t = await store.now_us()
    first = omni(a.id, t + S)
    await store.messages.insert([first], {a.id: a.version})
    viber = omni(a.id, t + S, channels=(("viber", 60),))
    clash = dataclasses.replace(viber, channels=(viber.channels[0], first.channels[0]))
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await store.messages.insert([clash], {a.id: a.version})
    assert await store.messages.get(a.id, clash.id) is None
    assert await timers(store, clash.id) == []
    view = await store.messages.get(a.id, first.id)
    assert view is not None and len(view.channels) == 1


async def test_cancel(store: Store) -> None:
    t = await store.now_us()
    m = omni(1, t + 60 * S, channels=(("viber", 120), ("sms", 60)))
    await store.messages.insert([m])

    assert (await store.messages.cancel(2, m.id))[0] == CancelResult.NOT_FOUND
    result, changes = await store.messages.cancel(1, m.id)
    assert result == CancelResult.CANCELLED
    assert [(c.message_id, c.status) for c in changes] == [
        (m.channels[0].id, "DELETED"),
        (m.channels[1].id, "DELETED"),
    ]
    assert await store.messages.cancel(1, m.id) == (CancelResult.ALREADY_CANCELLED, [])
    assert (await store.messages.cancel(2, m.id))[0] == CancelResult.NOT_FOUND
    assert (await store.messages.cancel(1, "no-such-id"))[0] == CancelResult.NOT_FOUND
    view = await store.messages.get(1, m.id)
    assert view is not None and view.state == "cancelled"
    assert {c.state for c in view.channels} == {"cancelled"}
    assert await timers(store, m.id) == []
    assert await store.timers.pending_count() == 0


async def test_a_group_of_cancels_answers_each_as_alone(store: Store) -> None:
    """Concurrent cancels share one transaction (engine GroupCommit): each request still gets
    the answer it would get alone, in order: another account's id, a repeat, a message already
    sending and an unknown id included."""
    t = await store.now_us()
    waiting = omni(1, t + 60 * S, channels=(("viber", 120), ("sms", 60)))
    sending = omni(1, t)
    theirs = omni(2, t + 60 * S)
    await store.messages.insert([waiting, sending, theirs])
    assert len((await store.attempts.start(await claim(store, t), t)).sends) == 1
    results = await store.messages.cancel_many(
        [
            (1, waiting.id, None),
            (2, waiting.id, None),
            (1, waiting.id, None),
            (1, sending.id, None),
            (1, theirs.id, None),
            (2, theirs.id, None),
            (1, "no-such-id", None),
        ]
    )
    assert [r for r, _ in results] == [
        CancelResult.CANCELLED,
        CancelResult.NOT_FOUND,
        CancelResult.ALREADY_CANCELLED,
        CancelResult.NOT_FOUND,
        CancelResult.NOT_FOUND,
        CancelResult.CANCELLED,
        CancelResult.NOT_FOUND,
    ]
    assert sorted(c.message_id for c in results[0][1]) == sorted(c.id for c in waiting.channels)
    assert [c.message_id for c in results[5][1]] == [theirs.channels[0].id]
    assert all(changes == [] for i, (_, changes) in enumerate(results) if i not in (0, 5))
    view = await store.messages.get(1, sending.id)
    assert view is not None and view.state == "processing"
    assert await timers(store, waiting.id) == [] and await timers(store, theirs.id) == []


async def test_a_cancel_checked_at_an_old_account_version_changes_nothing(
    store: Store,
) -> None:
    """A cancel names the account version its caller was checked at: when the account has
    moved on (a new password) or is gone, that cancel is answered ACCOUNT_CHANGED and nothing
    is cancelled; the group's other cancels go ahead; unchecked (None) cancels are not held."""
    a = await store.accounts.create("frank", "h", "FrankCo", "s")
    b = await store.accounts.create("grace", "h", "GraceCo", "s")
    t = await store.now_us()
    ma, mb, mb2 = omni(a.id, t + 60 * S), omni(b.id, t + 60 * S), omni(b.id, t + 60 * S)
    await store.messages.insert([ma, mb, mb2])
    changed = await store.accounts.update("grace", password_hash="h2")
    assert changed is not None and changed.version != b.version
    results = await store.messages.cancel_many(
        [(b.id, mb.id, b.version), (a.id, ma.id, a.version), (b.id, mb2.id, None)]
    )
    assert [r for r, _ in results] == [
        CancelResult.ACCOUNT_CHANGED,
        CancelResult.CANCELLED,
        CancelResult.CANCELLED,
    ]
    view = await store.messages.get(b.id, mb.id)
    assert view is not None and view.state == "scheduled"
    assert len(await timers(store, mb.id)) == 1
    assert (await store.messages.cancel(b.id, mb.id, changed.version))[0] == (
        CancelResult.CANCELLED
    )
    assert await store.accounts.remove("frank")
    assert (await store.messages.cancel(a.id, ma.id, a.version))[0] == (
        CancelResult.ACCOUNT_CHANGED
    )


async def test_a_cancel_writes_each_channel_its_event_and_report_at_one_time(
    store: Store,
) -> None:
    """What a cancel leaves, read back from the tables: each channel DELETED at the cancel's
    time, one DELETED event each at that time, one report each to the message's URL with the
    webhook body of that change (the message without a URL gets none)."""
    t = await store.now_us()
    with_url = dataclasses.replace(
        omni(1, t + 60 * S, channels=(("viber", 120), ("sms", 60))), dlr_url="https://r.example/d"
    )
    without = omni(1, t + 60 * S)
    await store.messages.insert([with_url, without])
    results = await store.messages.cancel_many([(1, with_url.id, None), (1, without.id, None)])
    assert [r for r, _ in results] == [CancelResult.CANCELLED, CancelResult.CANCELLED]
    changes = results[0][1]
    at = {c.at_us for _, cs in results for c in cs}
    assert len(at) == 1 and t <= at.pop() <= await store.now_us()
    assert sorted((c.to, c.channel, c.sender, c.dlr_url) for c in changes) == [
        ("+37251000000", "sms", "Sender", "https://r.example/d"),
        ("+37251000000", "viber", "Sender", "https://r.example/d"),
    ]
    async with store.read() as tx:
        chans = await tx.fetch(
            adhoc("SELECT id, status, status_us FROM channel_messages WHERE omnimessage_id = $1"),
            with_url.id,
        )
        events = await tx.fetch(
            adhoc("SELECT message_id, kind, status, at_us FROM message_events WHERE status = $1"),
            "DELETED",
        )
        hooks = await tx.fetch(
            adhoc("SELECT account_id, message_id, url, body, state FROM webhooks ORDER BY id"),
        )
    assert {(r["id"], r["status"], r["status_us"]) for r in chans} == {
        (c.message_id, "DELETED", c.at_us) for c in changes
    }
    everything = [c for _, cs in results for c in cs]
    assert sorted((r["message_id"], r["kind"], r["at_us"]) for r in events) == sorted(
        (c.message_id, "status", c.at_us) for c in everything
    )
    assert [
        (r["account_id"], r["message_id"], r["url"], orjson.loads(r["body"]), r["state"])
        for r in hooks
    ] == [(1, c.message_id, "https://r.example/d", delivery_report(c), "pending") for c in changes]


async def test_cancel_once_started_is_not_found(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t)
    assert (job.omnimessage_id, job.message_id, job.position) == (m.id, m.channels[0].id, 0)
    assert await store.messages.cancel(1, m.id) == (CancelResult.NOT_FOUND, [])
    view = await store.messages.get(1, m.id)
    assert view is not None and view.state == "processing"
    assert (
        view.channels[0].state == "sending" and view.channels[0].sent_us is None
    )  # set at hand-over


async def test_claimed_timer_of_cancelled_message_is_dropped(store: Store) -> None:
    t = await store.now_us()
    m = omni(1, t)
    await store.messages.insert([m])
    claims = await claim(store, t)
    assert (await store.messages.cancel(1, m.id))[0] == CancelResult.CANCELLED
    fired = await store.attempts.start(claims, t)
    assert fired.sends == [] and fired.lost_lease == 1  # cancel deleted the claimed timer


# claiming


async def test_claim_respects_horizon(store: Store) -> None:
    t = await store.now_us()
    early, late = omni(1, t - S), omni(1, t + 10 * S)
    await store.messages.insert([early, late])
    got = await claim(store, t, owner="w1", token=7, lease_until_us=t + LEASE)
    assert got == [Claim(got[0].timer_id, "send", early.id, t - S, 1, 7)]
    assert await timers(store, early.id) == [("send", t - S, "claimed", "w1", 7, 0)]
    assert await claim(store, t) == []  # nothing else due yet, and no row twice
    assert [c.ref for c in await claim(store, t + 10 * S)] == [late.id]


async def test_claim_limit_and_priority_order(store: Store) -> None:
    t = await store.now_us()
    # Low-priority rows are the most overdue, high-priority ones the least: priority wins.
    low = [omni(1, t - 30 * S + i, priority=0) for i in range(3)]
    regular = [omni(1, t - 20 * S + i, priority=1) for i in range(3)]
    high = [omni(1, t - 10 * S + i, priority=2) for i in range(3)]
    await store.messages.insert(low + regular + high)

    first = await claim(store, t, limit=4)
    assert {c.ref for c in first} == {m.id for m in high} | {regular[0].id}
    assert sorted((-c.priority, c.due_us) for c in first) == [
        (-2, t - 10 * S),
        (-2, t - 10 * S + 1),
        (-2, t - 10 * S + 2),
        (-1, t - 20 * S),
    ]
    second = await claim(store, t, limit=4)
    assert {c.ref for c in second} == {regular[1].id, regular[2].id, low[0].id, low[1].id}
    third = await claim(store, t, limit=4)
    assert [c.ref for c in third] == [low[2].id]
    assert await claim(store, t, limit=4) == []


@pytest.mark.postgres
async def test_concurrent_claimers_never_share_a_row(pg_database: str) -> None:
    db = parse_database_url(pg_database)
    a, b = await open_store(db), await open_store(db, run_migrations=False)
    try:
        t = await a.now_us()
        items = [omni(1, t - i, priority=i % 3) for i in range(2000)]
        await a.messages.insert(items)

        async def loop(s: Store, owner: str) -> list[int]:
            got: list[int] = []
            while batch := await s.timers.claim_due(owner, 1, t, 25, t + LEASE):
                got += [c.timer_id for c in batch]
            return got

        results = await asyncio.gather(loop(a, "a1"), loop(a, "a2"), loop(b, "b1"), loop(b, "b2"))
        claimed = [set(r) for r in results]
        assert sum(len(r) for r in results) == 2000
        assert len(set().union(*claimed)) == 2000
        for i, x in enumerate(claimed):
            for y in claimed[i + 1 :]:
                assert not x & y
        assert all(results), "each claimer should have claimed some rows"
        assert await a.timers.pending_count() == 0
    finally:
        await a.close()
        await b.close()


# firing and outcomes


async def test_finish_accepted_waits_for_validity_deadline(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t, ("sms", 60))
    assert await timers(store, m.id) == [("attempt", t, "claimed", "w1", 1, 0)]
    changes, lost = await store.attempts.finish(
        [SendOutcome(job, Outcome.ACCEPTED, "sandbox", provider_ref="p-1", parts_count=2)], t + 5
    )
    assert (changes, lost) == ([], 0)
    # The validity runs from the hand-over's start (t), not from the connector's answer (t + 5).
    assert await timers(store, m.id) == [("attempt", t + 60 * S, "pending", None, None, 0)]
    view = await store.messages.get(1, m.id)
    assert view is not None and view.state == "processing"
    assert (view.channels[0].state, view.channels[0].parts_count) == ("sent", 2)
    assert await store.timers.pending_count() == 1  # the attempt's deadline timer
    assert await store.timers.next_due_us() == t + 60 * S


async def test_reports_ack_then_delivered(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t)
    await store.attempts.finish([SendOutcome(job, Outcome.ACCEPTED, "sandbox", "p-1")], t)

    ack = Report(job.message_id, "ACK", 0, None, t + 1)
    changes = await store.attempts.apply_reports([ack], t + 1)
    assert [(c.message_id, c.status, c.at_us) for c in changes] == [(job.message_id, "ACK", t + 1)]
    view = await store.messages.get(1, m.id)
    assert view is not None and (view.channels[0].state, view.channels[0].status) == ("sent", "ACK")
    assert await store.attempts.apply_reports([ack], t + 2) == []  # duplicate

    delivered = Report(job.message_id, "DELIVRD", 0, None, t + 3, part_price="0.05")
    changes = await store.attempts.apply_reports([delivered], t + 3)
    assert [(c.status, c.omnimessage_id, c.account_id) for c in changes] == [("DELIVRD", m.id, 1)]
    view = await store.messages.get(1, m.id)
    assert view is not None and view.state == "delivered"
    ch = view.channels[0]
    assert (ch.state, ch.status, ch.status_us, ch.part_price) == (
        "delivered",
        "DELIVRD",
        t + 3,
        "0.05",
    )
    assert await timers(store, m.id) == []

    assert (
        await store.attempts.apply_reports([delivered], t + 4) == []
    )  # duplicate: no second change
    late_failure = Report(job.message_id, "FAILED", 1, "Delivery failure", t + 5)
    assert await store.attempts.apply_reports([late_failure], t + 5) == []  # final stays final
    view = await store.messages.get(1, m.id)
    assert view is not None and view.state == "delivered"
    assert (view.channels[0].state, view.channels[0].status) == ("delivered", "DELIVRD")
    assert await store.attempts.apply_reports([Report("no-such", "DELIVRD", 0, None, t)], t) == []


async def test_report_before_connector_answer(store: Store) -> None:
    """A final report can overtake the connector's answer: the answer then only records facts."""
    t = await store.now_us()
    m, job = await sent(store, t)
    await store.attempts.apply_reports([Report(job.message_id, "DELIVRD", 0, None, t + 1)], t + 1)
    changes, lost = await store.attempts.finish(
        [SendOutcome(job, Outcome.ACCEPTED, "sandbox", "p-1")], t + 2
    )
    assert changes == []
    assert lost == 0  # the report finished the walk and removed the timer: not a lost lease
    view = await store.messages.get(1, m.id)
    assert view is not None and view.state == "delivered"
    assert await timers(store, m.id) == []


async def test_ack_before_connector_answer_keeps_its_status(store: Store) -> None:
    """An ACK that arrives while the connector call is still open survives the answer."""
    t = await store.now_us()
    m, job = await sent(store, t)
    await store.attempts.apply_reports([Report(job.message_id, "ACK", 0, None, t + 1)], t + 1)
    await store.attempts.finish([SendOutcome(job, Outcome.ACCEPTED, "sandbox", "p-1")], t + 2)
    view = await store.messages.get(1, m.id)
    assert view is not None
    ch = view.channels[0]
    assert (ch.state, ch.status, ch.err, ch.status_us) == ("sent", "ACK", 0, t + 1)


# leases, fencing, recovery


async def test_lost_lease_cannot_complete(store: Store) -> None:
    t = await store.now_us()
    m = omni(1, t)
    await store.messages.insert([m])
    old = await claim(store, t, owner="w1", token=1, lease_until_us=t + S)
    assert len(old) == 1

    recovered = await store.attempts.recover("w2", 2, t + 2 * S, t + 2 * S + LEASE)
    assert (recovered.released, recovered.unknown) == (1, ())
    assert await timers(store, m.id) == [("send", t, "pending", None, None, 0)]

    fired = await store.attempts.start(old, t + 3 * S)
    assert (fired.sends, fired.lost_lease) == ([], 1)
    new = await claim(store, t + 3 * S, owner="w2", token=2)
    assert [c.ref for c in new] == [m.id]
    fired = await store.attempts.start(old, t + 3 * S)  # same row, but the lease is not ours
    assert (fired.sends, fired.lost_lease) == ([], 1)
    fired = await store.attempts.start(new, t + 3 * S)
    assert len(fired.sends) == 1 and fired.lost_lease == 0


async def test_recover_attempt_caught_mid_send(store: Store) -> None:
    t = await store.now_us()
    m = omni(1, t)
    await store.messages.insert([m])
    claims = await claim(store, t, owner="w1", token=1, lease_until_us=t + S)
    (job,) = (await store.attempts.start(claims, t)).sends

    assert (await store.attempts.recover("w2", 2, t + S // 2, t + LEASE)).unknown == ()  # not yet
    recovered = await store.attempts.recover("w2", 2, t + 2 * S, t + 2 * S + LEASE)
    assert recovered.released == 0
    (again,) = recovered.unknown
    assert (again.timer_id, again.lease_token, again.message_id, again.position) == (
        job.timer_id,
        2,
        job.message_id,
        0,
    )
    assert await timers(store, m.id) == [("attempt", t, "claimed", "w2", 2, 0)]
    view = await store.messages.get(1, m.id)
    assert view is not None and view.channels[0].state == "unknown"

    # The dead process's answer is fenced off; the recovering one reconciles.
    _, lost = await store.attempts.finish([SendOutcome(job, Outcome.ACCEPTED, "sandbox", "p")], t)
    assert lost == 1
    _, lost = await store.attempts.finish(
        [SendOutcome(again, Outcome.ACCEPTED, "sandbox", "p")], t + 3 * S
    )
    assert lost == 0
    view = await store.messages.get(1, m.id)
    assert view is not None and view.channels[0].state == "sent"
    # The deadline counts from the first hand-over (t), not from the reconciliation.
    assert await timers(store, m.id) == [("attempt", t + 60 * S, "pending", None, None, 0)]


async def test_release_and_extend_owned(store: Store) -> None:
    t = await store.now_us()
    a, b = omni(1, t), omni(1, t)
    await store.messages.insert([a, b])
    claims = await claim(store, t, owner="w1", lease_until_us=t + S)
    assert await store.timers.extend_leases("w1", t + 9 * S, [1], t + 8 * S) == 2
    assert await store.timers.extend_leases("w2", t + 9 * S, [1], t + 8 * S) == 0
    assert (await store.attempts.recover("w2", 2, t + 2 * S, t + LEASE)).released == 0
    await store.attempts.start([c for c in claims if c.ref == a.id], t)
    assert await store.timers.release_owned("w1") == 1  # the unfired send timer only
    assert await timers(store, b.id) == [("send", t, "pending", None, None, 0)]
    assert await timers(store, a.id) == [("attempt", t, "claimed", "w1", 1, 0)]


async def test_extension_leaves_leases_set_since_the_last_pass(store: Store) -> None:
    """Only leases running out before the threshold are renewed: one just taken or renewed
    keeps its time, and is renewed at the next pass."""
    t = await store.now_us()
    a, b = omni(1, t), omni(1, t + 1)
    await store.messages.insert([a, b])
    await claim(store, t, owner="w1", token=1, lease_until_us=t + 2 * S)
    await claim(store, t + 1, owner="w1", token=1, lease_until_us=t + 10 * S)
    assert await store.timers.extend_leases("w1", t + 12 * S, [1], t + 5 * S) == 1
    assert await timers(store, a.id) == [("send", t, "claimed", "w1", 1, 0)]
    async with store.read() as tx:
        leases = dict(await tx.fetch(adhoc("SELECT ref, lease_until_us FROM timers")))
    assert leases == {a.id: t + 12 * S, b.id: t + 10 * S}
    assert await store.timers.extend_leases("w1", t + 15 * S, [1], t + 11 * S) == 1  # b now


async def test_extension_renews_only_the_tokens_in_hand(store: Store) -> None:
    """A claim the process lost track of (its transaction failed with the database gone) is not
    renewed: its lease runs out and recovery takes it back."""
    t = await store.now_us()
    a, b = omni(1, t), omni(1, t + 1)
    await store.messages.insert([a, b])
    await claim(store, t, owner="w1", token=1, lease_until_us=t + S)
    await claim(store, t + 1, owner="w1", token=2, lease_until_us=t + S)
    assert await store.timers.extend_leases("w1", t + 9 * S, [2], t + 8 * S) == 1
    assert await store.timers.extend_leases("w1", t + 9 * S, [], t + 8 * S) == 0
    result = await store.attempts.recover("w2", 3, t + 2 * S, t + LEASE)
    assert result.released == 1
    assert await timers(store, a.id) == [("send", t, "pending", None, None, 0)]
    assert await timers(store, b.id) == [("send", t + 1, "claimed", "w1", 2, 0)]


# the fallback walk


async def test_rejected_first_channel_falls_back_to_second(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t, ("viber", 60), ("sms", 60))
    changes, lost = await store.attempts.finish(
        [SendOutcome(job, Outcome.REJECTED, "sandbox", err=3)], t + 1
    )
    assert lost == 0
    assert [(c.message_id, c.status, c.err) for c in changes] == [(job.message_id, "REJECTD", 3)]
    view = await store.messages.get(1, m.id)
    assert view is not None and (view.state, view.position) == ("processing", 1)
    assert [c.state for c in view.channels] == ["failed", "pending"]
    assert await timers(store, m.id) == [("send", t + 1, "pending", None, None, 1)]

    (second,) = (await store.attempts.start(await claim(store, t + 1), t + 1)).sends
    assert (second.position, second.channel, second.message_id) == (1, "sms", m.channels[1].id)


async def test_expired_attempts_walk_to_the_end(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t, ("viber", 60), ("sms", 30))
    await store.attempts.finish([SendOutcome(job, Outcome.ACCEPTED, "sandbox", "p-1")], t)
    assert await claim(store, t + 60 * S - 1) == []

    # The first channel's validity runs out: on to the second, due now.
    t1 = t + 60 * S
    claims = await claim(store, t1)
    assert [(c.kind, c.due_us) for c in claims] == [("attempt", t1)]
    fired = await store.attempts.start(claims, t1)
    assert fired.sends == []
    assert [(c.message_id, c.status, c.err) for c in fired.changes] == [
        (m.channels[0].id, "EXPIRED", 2)
    ]
    view = await store.messages.get(1, m.id)
    assert view is not None and (view.state, view.position) == ("processing", 1)
    assert [c.state for c in view.channels] == ["expired", "pending"]
    assert await timers(store, m.id) == [("send", t1, "pending", None, None, 1)]

    # The second (last) one expires too: the omnimessage is expired, no timer is left.
    (job2,) = (await store.attempts.start(await claim(store, t1), t1)).sends
    assert job2.position == 1
    await store.attempts.finish([SendOutcome(job2, Outcome.ACCEPTED, "sandbox", "p-2")], t1)
    t2 = t1 + 30 * S
    fired = await store.attempts.start(await claim(store, t2), t2)
    assert [(c.message_id, c.status) for c in fired.changes] == [(m.channels[1].id, "EXPIRED")]
    view = await store.messages.get(1, m.id)
    assert view is not None and view.state == "expired"
    assert [c.state for c in view.channels] == ["expired", "expired"]
    assert await timers(store, m.id) == []
    assert await store.timers.next_due_us() is None


async def test_retry_outcome_reschedules_same_channel(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t, ("viber", 60), ("sms", 60))
    await store.attempts.finish(
        [SendOutcome(job, Outcome.RETRY, "sandbox", retry_at_us=t + 5 * S)], t
    )
    assert await timers(store, m.id) == [("send", t + 5 * S, "pending", None, None, 1)]
    (again,) = (await store.attempts.start(await claim(store, t + 5 * S), t + 5 * S)).sends
    assert (again.position, again.message_id) == (0, job.message_id)


# sandbox inbox, counters


async def test_sandbox_inbox(store: Store) -> None:
    t = await store.now_us()
    msgs = [
        SandboxMessage(
            f"m{i}",
            "o1",
            1 if i < 3 else 2,
            "sms",
            f"+3725100000{i % 2}",
            "S",
            f"text {i}",
            "{}",
            t + i,
        )
        for i in range(4)
    ]
    await store.sandbox.insert(msgs)
    await store.sandbox.insert(msgs[:1])  # the same message again: ignored
    assert [m.message_id for m in await store.sandbox.page(1, None)] == ["m2", "m1", "m0"]
    assert await store.sandbox.page(1, None) == [msgs[2], msgs[1], msgs[0]]
    assert [m.message_id for m in await store.sandbox.page(1, "+37251000000")] == [
        "m2",
        "m0",
    ]
    assert [m.message_id for m in await store.sandbox.page(1, None, limit=1)] == ["m2"]
    assert [m.message_id for m in await store.sandbox.page(1, None, before_us=t + 2)] == [
        "m1",
        "m0",
    ]
    assert [m.message_id for m in await store.sandbox.page(2, None)] == ["m3"]
    assert await store.sandbox.has(["m0", "m3", "zz"]) == {"m0", "m3"}
    assert await store.sandbox.has([]) == set()


# provider callbacks


async def test_provider_event_matched_by_our_id_after_a_lost_answer(store: Store) -> None:
    """A send that timed out left no provider ref: an event echoing our id still matches it
    (for the connector that was handed the message only), and teaches us the ref."""
    t = await store.now_us()
    _, job = await sent(store, t, ("whatsapp", 60))
    await store.attempts.finish([SendOutcome(job, Outcome.UNKNOWN, "wa")], t + 1)

    async def matched(connector: str, *events: ProviderEventKey) -> list[tuple[str | None, bool]]:
        res = await store.providers.record_events(connector, events, t + 2)
        return [(r.message_id, r.new) for r in res]

    mid = job.message_id
    ref_only = ProviderEventKey("wamid.1:sent", "wamid.1")
    delivered = ProviderEventKey("wamid.1:delivered", "wamid.1", mid)
    assert await matched("wa", ref_only) == [(None, False)]
    assert await matched("wa2", delivered) == [(None, False)]  # not the connector handed it
    assert await matched("wa", delivered) == [(mid, True)]
    assert await matched("wa", delivered, ref_only) == [(mid, False), (mid, True)]


async def test_pending_count_and_next_due(store: Store) -> None:
    assert await store.timers.pending_count() == 0
    assert await store.timers.next_due_us() is None
    t = await store.now_us()
    await store.messages.insert([omni(1, t + 3 * S), omni(1, t + S), omni(1, t + 2 * S)])
    await store.messages.insert([])
    assert await store.timers.pending_count() == 3
    assert await store.timers.next_due_us() == t + S
    await claim(store, t + S)
    assert await store.timers.pending_count() == 2
    assert await store.timers.next_due_us() == t + 2 * S


async def test_clock(store: Store) -> None:
    import time

    a = await store.now_us()
    b = await store.now_us()
    assert a <= b
    assert abs(a - time.time_ns() // 1000) < 5 * S


# PostgreSQL only: notifications and row locks between processes


@pytest.mark.postgres
async def test_listen_receives_due_of_insert_from_another_store(pg_database: str) -> None:
    db = parse_database_url(pg_database)
    listener, writer = await open_store(db), await open_store(db, run_migrations=False)
    try:
        got: asyncio.Queue[int | None] = asyncio.Queue()
        await listener.listen(got.put_nowait)
        t = await writer.now_us()
        await writer.messages.insert([omni(1, t + 9 * S), omni(1, t + 4 * S)])
        assert await asyncio.wait_for(got.get(), 1) == t + 4 * S  # one notify: the earliest
        await writer.messages.insert([omni(1, t + 7 * S)])
        assert await asyncio.wait_for(got.get(), 1) == t + 7 * S
        assert got.empty()

        # The connection drops: it is re-opened, and the callback told to look again.
        async with writer.read() as tx:
            await tx.fetch(
                adhoc(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            )
        assert await asyncio.wait_for(got.get(), 5) is None
        await writer.messages.insert([omni(1, t + 8 * S)])
        assert await asyncio.wait_for(got.get(), 1) == t + 8 * S
    finally:
        await listener.close()
        await writer.close()


async def _two_claimed(store: Store) -> tuple[int, NewOmnimessage, NewOmnimessage, list[Claim]]:
    """Two messages due now, claimed by w1 with a 1 s lease; the claims of the first."""
    t = await store.now_us()
    a, b = omni(1, t), omni(1, t)
    await store.messages.insert([a, b])
    claims = await claim(store, t, lease_until_us=t + S)
    return t, a, b, [c for c in claims if c.ref == a.id]


@pytest.mark.postgres
async def test_recovery_skips_rows_another_transaction_holds(pg_database: str) -> None:
    store = await open_store(parse_database_url(pg_database))
    try:
        t, _a, b, held = await _two_claimed(store)
        async with store.write() as tx:
            await attempts.start(tx, held, t)  # holds a's timer row until commit
            result = await asyncio.wait_for(
                store.attempts.recover("w2", 2, t + 2 * S, t + LEASE), 2
            )
            assert result.released == 1  # b only; a is busy, not waited for
        assert await timers(store, b.id) == [("send", t, "pending", None, None, 0)]
    finally:
        await store.close()


@pytest.mark.postgres
async def test_extension_passes_over_held_rows_and_a_start_renews_its_own(pg_database: str) -> None:
    """Extending leases never waits for a row another transaction holds (waiting built lock
    convoys under a burst); the start transaction holding it renews that lease itself."""
    store = await open_store(parse_database_url(pg_database))
    try:
        t, a, b, held = await _two_claimed(store)
        async with store.write() as tx:
            await attempts.start(tx, held, t, lease_until_us=t + 7 * S)
            extended = await asyncio.wait_for(
                store.timers.extend_leases("w1", t + 5 * S, [1], t + 4 * S), 2
            )
            assert extended == 1  # b only; a is busy, not waited for
        async with store.read() as tx:
            leases = dict(await tx.fetch(adhoc("SELECT ref, lease_until_us FROM timers")))
        assert leases == {a.id: t + 7 * S, b.id: t + 5 * S}
        # Neither lease has run out at t + 4 s: recovery takes nothing.
        result = await store.attempts.recover("w2", 2, t + 4 * S, t + LEASE)
        assert (result.released, result.unknown) == (0, ())
    finally:
        await store.close()


@pytest.mark.postgres
async def test_report_racing_the_connector_answer_does_not_deadlock(pg_database: str) -> None:
    """attempts.finish locks the timer, then the message; a report must take them in that order."""
    store = await open_store(parse_database_url(pg_database))
    try:
        t = await store.now_us()
        m, job = await sent(store, t)
        async with store.write() as tx:
            claim_ = Claim(job.timer_id, "attempt", m.id, job.due_us, 0, job.lease_token)
            assert len(await attempts.fenced(tx, [claim_])) == 1  # the timer row is locked
            report = asyncio.create_task(
                store.attempts.apply_reports(
                    [Report(job.message_id, "DELIVRD", 0, None, t + 2)], t + 2
                )
            )
            await asyncio.sleep(0.3)  # the report is now waiting for a lock
            await attempts.finish(tx, [SendOutcome(job, Outcome.ACCEPTED, "sandbox", "p-1")], t + 1)
        changes = await asyncio.wait_for(report, 5)
        assert [c.status for c in changes] == ["DELIVRD"]
        view = await store.messages.get(1, m.id)
        assert view is not None and view.state == "delivered"
        assert await timers(store, m.id) == []
    finally:
        await store.close()


@pytest.mark.postgres
async def test_cancel_racing_a_fire_does_not_deadlock(pg_database: str) -> None:
    """attempts.start locks the timer, then the message; cancel must take them in that order."""
    store = await open_store(parse_database_url(pg_database))
    try:
        t = await store.now_us()
        m = omni(1, t)
        await store.messages.insert([m])
        claims = await claim(store, t)
        async with store.write() as tx:
            assert len(await attempts.fenced(tx, claims)) == 1  # the timer row is locked
            cancel = asyncio.create_task(store.messages.cancel(1, m.id))
            await asyncio.sleep(0.3)  # the cancel is now waiting for a lock
            fired = await attempts.start(tx, claims, t)
            assert len(fired.sends) == 1
        assert await asyncio.wait_for(cancel, 5) == (CancelResult.NOT_FOUND, [])  # too late
        view = await store.messages.get(1, m.id)
        assert view is not None and view.state == "processing"
    finally:
        await store.close()
