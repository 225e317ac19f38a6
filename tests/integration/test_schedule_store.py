"""The scheduling lifecycle's store port (store/schedule.py) on both backends: list pages,
reschedule and pause against the dispatcher's claim and start, resume, batch cancel, counts and
the event log."""

from __future__ import annotations

import uuid
from dataclasses import replace

from tests.integration.test_store import S, claim, omni, timers
from tidings.store.base import Store
from tidings.store.records import CancelResult, NewOmnimessage, StatusChange
from tidings.store.schedule import ListQuery


def tagged(m: NewOmnimessage, batch: str | None, created_us: int | None = None) -> NewOmnimessage:
    return replace(m, batch=batch, created_us=m.created_us if created_us is None else created_us)


def q(account_id: int = 1, **kw: object) -> ListQuery:
    base: dict[str, object] = {
        "account_id": account_id,
        "order": "new",
        "state": None,
        "after": None,
        "due_from_us": None,
        "due_until_us": None,
        "to": None,
        "batch": None,
        "limit": 100,
    }
    base.update(kw)
    return ListQuery(**base)  # type: ignore[arg-type]


async def test_list_pages_soonest_and_newest_first(store: Store) -> None:
    t = await store.now_us()
    ms = [tagged(omni(1, t + (10 - i) * S), "b1" if i % 2 else None, t + i) for i in range(10)]
    other = omni(2, t + S)
    await store.messages.insert([*ms, other])

    # Scheduled, soonest first, in pages of 3 with the cursor position: each exactly once.
    seen: list[str] = []
    after = None
    while True:
        page = await store.schedule.page(q(order="due", state="scheduled", after=after, limit=3))
        seen += [i.id for i in page]
        if len(page) < 3:
            break
        after = (page[-1].due_us, page[-1].id)
    assert seen == [m.id for m in sorted(ms, key=lambda m: m.due_us)]

    newest = await store.schedule.page(q())
    assert [i.id for i in newest] == [m.id for m in reversed(ms)]  # created later first
    assert {c.message_id for c in newest[0].channels} == {ms[-1].channels[0].id}

    in_batch = await store.schedule.page(q(batch="b1"))
    assert {i.id for i in in_batch} == {m.id for m in ms[1::2]}
    assert all(i.batch == "b1" for i in in_batch)
    window = await store.schedule.page(
        q(order="due", state="scheduled", due_from_us=t + 3 * S, due_until_us=t + 5 * S)
    )
    assert [i.due_us for i in window] == [t + 3 * S, t + 4 * S]
    assert await store.schedule.page(q(to="+37259999999")) == []
    assert [i.id for i in await store.schedule.page(q(account_id=2))] == [other.id]


async def test_reschedule_moves_the_timer_and_logs_it(store: Store) -> None:
    t = await store.now_us()
    m = omni(1, t + 60 * S)
    await store.messages.insert([m])
    assert await store.schedule.reschedule(2, m.id, t + 90 * S, t + 90 * S, None, t) is None
    assert await store.schedule.reschedule(1, m.id, t + 90 * S, t + 90 * S, None, t) == "scheduled"
    assert await timers(store, m.id) == [("send", t + 90 * S, "pending", None, None, 0)]
    found = await store.schedule.inspect(1, m.id)
    assert found is not None
    assert (found.message.due_us, found.message.time_to_send_us) == (t + 90 * S, t + 90 * S)
    assert [(e.kind, e.outcome, e.due_us) for e in found.history] == [
        ("lifecycle", "rescheduled", t + 90 * S)
    ]
    assert await store.schedule.inspect(2, m.id) is None


async def test_reschedule_of_a_claim_in_the_look_ahead_takes_effect(store: Store) -> None:
    # The dispatcher has leased the timer into its look-ahead but not started it: the
    # reschedule clears the lease, so the start finds it gone and sends nothing.
    t = await store.now_us()
    m = omni(1, t)
    await store.messages.insert([m])
    claims = await claim(store, t)
    assert len(claims) == 1
    assert await store.schedule.reschedule(1, m.id, t + 60 * S, t + 60 * S, None, t) == "scheduled"
    fired = await store.attempts.start(claims, t)
    assert fired.sends == [] and fired.lost_lease == 1
    assert await timers(store, m.id) == [("send", t + 60 * S, "pending", None, None, 0)]
    assert await claim(store, t + 59 * S) == []
    again = await claim(store, t + 60 * S, token=2)
    assert [c.ref for c in again] == [m.id]
    assert len((await store.attempts.start(again, t + 60 * S)).sends) == 1


async def test_reschedule_after_start_is_refused(store: Store) -> None:
    t = await store.now_us()
    m = omni(1, t)
    await store.messages.insert([m])
    fired = await store.attempts.start(await claim(store, t), t)
    assert len(fired.sends) == 1
    assert await store.schedule.reschedule(1, m.id, t + 60 * S, t + 60 * S, None, t) is None
    view = await store.messages.get(1, m.id)
    assert view is not None and (view.state, view.due_us) == ("processing", t)


async def test_pause_fences_the_look_ahead_and_resume_sends(store: Store) -> None:
    t = await store.now_us()
    ms = [tagged(omni(1, t + i), "camp") for i in range(3)]
    loose = omni(1, t)
    await store.messages.insert([*ms, loose])
    claims = await claim(store, t + 10)  # all four leased into a look-ahead
    paused = await store.schedule.pause_batch(1, "camp")
    assert paused.changed == 3
    fired = await store.attempts.start(claims, t + 10)
    assert [j.omnimessage_id for j in fired.sends] == [loose.id]
    assert fired.lost_lease == 3
    assert await claim(store, t + 3600 * S, token=2) == []  # paused timers are never claimed
    assert {r[2] for m in ms for r in await timers(store, m.id)} == {"paused"}
    assert await store.schedule.batch_counts(1, "camp") == {"paused": 3}
    assert (await store.schedule.pause_batch(1, "camp")).changed == 0
    assert (await store.schedule.cancel_batch(2, "camp")).changed == 0  # another account's tag

    # Rescheduling a paused message keeps it paused.
    assert await store.schedule.reschedule(1, ms[0].id, t + 5 * S, t + 5 * S, None, t) == "paused"
    assert await timers(store, ms[0].id) == [("send", t + 5 * S, "paused", None, None, 0)]

    resumed = await store.schedule.resume_batch(1, "camp", skip_missed=False)
    assert resumed.changed == 3 and resumed.changes == []
    assert resumed.earliest_due_us == t + 1
    got = await claim(store, t + 10 * S, token=3)
    assert {c.ref for c in got} == {m.id for m in ms}
    found = await store.schedule.inspect(1, ms[1].id)
    assert found is not None
    assert [e.outcome for e in found.history] == ["paused", "resumed"]


async def test_resume_skip_missed_cancels_what_passed(store: Store) -> None:
    now = await store.now_us()
    past = tagged(omni(1, now - 60 * S), "late")
    future = tagged(omni(1, now + 3600 * S), "late")
    await store.messages.insert([past, future])
    assert (await store.schedule.pause_batch(1, "late")).changed == 2
    result = await store.schedule.resume_batch(1, "late", skip_missed=True)
    assert result.changed == 2
    assert [(c.omnimessage_id, c.status) for c in result.changes] == [(past.id, "DELETED")]
    assert result.earliest_due_us == now + 3600 * S
    assert await store.schedule.batch_counts(1, "late") == {"cancelled": 1, "scheduled": 1}
    assert await timers(store, past.id) == []


async def test_batch_cancel_in_one_call(store: Store) -> None:
    t = await store.now_us()
    ms = [tagged(omni(1, t + 60 * S), "big") for _ in range(500)]
    await store.messages.insert(ms)
    started = omni(1, t)
    await store.messages.insert([tagged(started, "big")])
    assert len((await store.attempts.start(await claim(store, t), t)).sends) == 1
    assert (await store.schedule.pause_batch(1, "big")).changed == 500
    await store.schedule.resume_batch(1, "big", skip_missed=False)
    await store.schedule.pause_batch(1, "big")  # cancel takes paused ones too
    result = await store.schedule.cancel_batch(1, "big")
    assert result.changed == 500 and not result.following  # written out whole at once
    assert len(result.changes) == 500 and {c.status for c in result.changes} == {"DELETED"}
    assert await store.schedule.batch_counts(1, "big") == {"cancelled": 500, "processing": 1}
    assert await store.timers.pending_count() == 0
    view = await store.messages.get(1, ms[0].id)
    assert view is not None and {c.status for c in view.channels} == {"DELETED"}
    history = await store.events.history(ms[0].id)
    assert [e.status for e in history if e.kind == "status"] == ["DELETED"]
    assert (await store.schedule.cancel_batch(1, "big")).changed == 0
    assert await store.schedule.batch_counts(1, str(uuid.uuid4())) == {}


async def test_single_cancel_of_a_paused_message(store: Store) -> None:
    t = await store.now_us()
    m = tagged(omni(1, t + 60 * S), "p")
    await store.messages.insert([m])
    await store.schedule.pause_batch(1, "p")
    result, changes = await store.messages.cancel(1, m.id)
    assert result == "cancelled" and [c.status for c in changes] == ["DELETED"]
    assert await timers(store, m.id) == []


async def test_newest_first_by_state_lists_exactly_that_state(store: Store) -> None:
    from tests.integration.test_store import sent
    from tidings.core.dispatch import Outcome
    from tidings.store.records import Report, SendOutcome

    t = await store.now_us()
    waiting = omni(1, t + 3600 * S)
    cancelled = omni(1, t + 3600 * S)
    await store.messages.insert([waiting, cancelled])
    await store.messages.cancel(1, cancelled.id)
    delivered, job = await sent(store, t)
    await store.attempts.finish([SendOutcome(job, Outcome.ACCEPTED, "sandbox", "r1")], t + 1)
    await store.attempts.apply_reports([Report(job.message_id, "DELIVRD", 0, None, t + 2)], t + 2)
    processing, _ = await sent(store, t + 3)

    async def listed(state: str) -> list[str]:
        return [i.id for i in await store.schedule.page(q(state=state))]

    assert await listed("processing") == [processing.id]
    assert await listed("delivered") == [delivered.id]
    assert await listed("cancelled") == [cancelled.id]
    assert await listed("failed") == []
    assert [i.id for i in await store.schedule.page(q(order="due", state="scheduled"))] == [
        waiting.id
    ]


async def test_state_listings_walk_their_partial_indexes(store: Store) -> None:
    """SQLite's planner must match each partial index's predicate (written out in the SQL)
    and take the order from it. (PostgreSQL's choice on tiny tables says nothing.)"""
    if store.kind != "sqlite":
        return
    from tidings.store.queries import adhoc, query

    for name, index, extra in (
        ("list_new_final", "omnimessages_final_created", ("delivered", 10)),
        ("list_new_processing", "omnimessages_processing_created", (10,)),
    ):
        sql = query(name).sqlite
        assert sql is not None
        async with store.read() as tx:
            rows = await tx.fetch(
                adhoc("EXPLAIN QUERY PLAN " + sql.replace("?", "$").replace("$$", "$")),
                1, 2**62, "~", 0, 2**62, None, None, *extra,
            )  # fmt: skip
        plan = " ".join(str(r[-1]) for r in rows)
        assert index in plan, (name, plan)
        assert "TEMP B-TREE" not in plan, (name, plan)


async def test_batch_cancel_written_out_after_its_answer(store: Store) -> None:
    """A batch cancel decides every message at once; the channels beyond its first chunk are
    written out by follow-up chunks, each exactly once, from a row that keeps the work."""
    t = await store.now_us()
    ms = [
        tagged(omni(1, t + (60 + i) * S, channels=(("whatsapp", 60), ("sms", 60))), "big")
        for i in range(25)
    ]
    await store.messages.insert(ms)
    single = ms[3]  # cancelled alone before the batch: written out by its own cancel only
    assert (await store.messages.cancel(1, single.id))[0] == CancelResult.CANCELLED
    other = tagged(omni(1, t + 60 * S), "other")
    started = tagged(omni(1, t), "big")  # sending already: not cancelled, not written out
    await store.messages.insert([other, started])
    assert len((await store.attempts.start(await claim(store, t), t)).sends) == 1

    result = await store.schedule.cancel_batch(1, "big", whole_up_to=23)
    assert result.changed == 24 and result.following and result.changes == []
    assert await store.schedule.batch_counts(1, "big") == {"cancelled": 25, "processing": 1}
    # Decided for all: none can be rescheduled or cancelled again, even before the write-out.
    assert (await store.messages.cancel(1, ms[-1].id))[0] == CancelResult.ALREADY_CANCELLED

    written: list[StatusChange] = []
    rounds = 0
    while True:
        changes, found = await store.schedule.follow_up_cancel(limit=7)
        written += changes
        if not found:
            break
        rounds += 1
    assert rounds == 4  # 25 cancelled in the batch: 7, 7, 7, 4
    assert (await store.schedule.follow_up_cancel())[1] is False

    assert sorted(c.message_id for c in written) == sorted(
        ch.id for m in ms if m is not single for ch in m.channels
    )
    for m in ms:
        view = await store.messages.get(1, m.id)
        assert view is not None and {c.status for c in view.channels} == {"DELETED"}
        deleted = [e for e in await store.events.history(m.id) if e.status == "DELETED"]
        assert len(deleted) == 2, m.id
        assert await timers(store, m.id) == []
    assert await store.schedule.batch_counts(1, "other") == {"scheduled": 1}
    view = await store.messages.get(1, started.id)
    assert view is not None and view.state == "processing"
    assert "DELETED" not in {c.status for c in view.channels}
    assert len(await timers(store, other.id)) == 1


async def test_a_batch_cancel_beats_a_later_start(store: Store) -> None:
    """Between the answer and the write-out, a due timer of a cancelled message is dropped by
    the start that claims it; nothing is sent."""
    t = await store.now_us()
    ms = [tagged(omni(1, t), "due") for _ in range(5)]
    await store.messages.insert(ms)
    result = await store.schedule.cancel_batch(1, "due", whole_up_to=1)
    assert result.changed == 5 and result.following
    fired = await store.attempts.start(await claim(store, t), t)
    assert fired.sends == []
    for _ in range(10):  # 5 messages, 2 a chunk: 3 chunks, then nothing left
        if not (await store.schedule.follow_up_cancel(limit=2))[1]:
            break
    else:
        raise AssertionError("the write-out never ended")
    for m in ms:
        assert await timers(store, m.id) == []
        view = await store.messages.get(1, m.id)
        assert view is not None and {c.status for c in view.channels} == {"DELETED"}
