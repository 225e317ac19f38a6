"""The append-only event log and the validity rule for retries, on both backends."""

from __future__ import annotations

import pytest

from tests.integration.test_store import S, claim, sent, timers
from tidings.core.dispatch import Outcome
from tidings.store.base import Store
from tidings.store.queries import adhoc
from tidings.store.records import Report, SendOutcome
from tidings.store.tx import Tx


async def history(store: Store, omni_id: str) -> list[tuple[object, ...]]:
    rows = await store.events.history(omni_id)
    return [(e.kind, e.status or e.outcome, e.err, e.at_us) for e in rows]


async def test_every_status_and_answer_is_kept_in_order(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t, ("whatsapp", 60))
    await store.attempts.finish(
        [SendOutcome(job, Outcome.ACCEPTED, "wa", provider_ref="wamid.1", handed_us=t + 1)], t + 2
    )
    for status, err, at in (("ACK", 0, t + 3), ("DELIVRD", 0, t + 4), ("SEEN", 10, t + 5)):
        await store.attempts.apply_reports([Report(job.message_id, status, err, None, at)], at)
    await store.attempts.apply_reports(
        [Report(job.message_id, "SEEN", 10, None, t + 6)], t + 6
    )  # repeat

    assert await history(store, m.id) == [
        ("attempt", "accepted", None, t + 1),
        ("status", "ACK", 0, t + 3),
        ("status", "DELIVRD", 0, t + 4),
        ("status", "SEEN", 10, t + 5),
    ]
    view = await store.messages.get(1, m.id)
    assert view is not None and view.channels[0].status == "SEEN"  # the latest, kept beside


async def test_an_acceptance_with_its_ack_is_one_row_read_as_two_events(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t, ("sms", 60))
    await store.attempts.finish(
        [
            SendOutcome(
                job, Outcome.ACCEPTED, "smsc", provider_ref="r-1", status="ACK", handed_us=t + 1
            )
        ],
        t + 2,
    )

    async def rows(tx: Tx) -> list[tuple[object, ...]]:
        return [
            (r["kind"], r["status"], r["outcome"])
            for r in await tx.fetch(
                adhoc("SELECT kind, status, outcome FROM message_events WHERE omnimessage_id = $1"),
                m.id,
            )
        ]

    assert await store.transact(rows) == [("answered", "ACK", "accepted")]
    events = await store.events.history(m.id)
    assert [(e.kind, e.status or e.outcome, e.err, e.at_us) for e in events] == [
        ("attempt", "accepted", None, t + 1),
        ("status", "ACK", 0, t + 1),
    ]
    assert (events[0].connector, events[0].provider_ref) == ("smsc", "r-1")
    assert (events[1].connector, events[1].provider_ref) == (None, None)


async def test_events_cannot_be_updated(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t)
    await store.attempts.finish([SendOutcome(job, Outcome.ACCEPTED, "sandbox", "p")], t)

    async def rewrite(tx: Tx) -> int:
        return await tx.execute(adhoc("UPDATE message_events SET outcome = 'rejected'"))

    with pytest.raises(Exception, match="append-only"):
        await store.transact(rewrite)
    assert await history(store, m.id) == [("attempt", "accepted", None, t)]


async def test_cancel_is_logged_as_deleted(store: Store) -> None:
    from tests.integration.test_store import omni

    t = await store.now_us()
    m = omni(1, t + 3600 * S, channels=(("viber", 60), ("sms", 60)))
    await store.messages.insert([m])
    await store.messages.cancel(1, m.id)
    assert [h[:2] for h in await history(store, m.id)] == [
        ("status", "DELETED"),
        ("status", "DELETED"),
    ]


async def test_retry_past_validity_expires_the_channel_and_sends_the_next(store: Store) -> None:
    t = await store.now_us()
    m, job = await sent(store, t, ("whatsapp", 5), ("sms", 60))
    # Within the validity: the same channel again, at the retry time.
    await store.attempts.finish(
        [SendOutcome(job, Outcome.RETRY, "wa", retry_at_us=t + 2 * S, error="refused")], t + 1
    )
    assert await timers(store, m.id) == [("send", t + 2 * S, "pending", None, None, 1)]
    (again,) = (await store.attempts.start(await claim(store, t + 2 * S), t + 2 * S)).sends
    assert again.message_id == job.message_id
    # The next retry would fall past the 5 s validity counted from the first start (t).
    changes, _ = await store.attempts.finish(
        [SendOutcome(again, Outcome.RETRY, "wa", retry_at_us=t + 7 * S)], t + 2 * S + 1
    )
    assert [(c.message_id, c.status, c.err) for c in changes] == [(job.message_id, "EXPIRED", 2)]
    assert await timers(store, m.id) == [("send", t + 2 * S + 1, "pending", None, None, 2)]
    (sms,) = (await store.attempts.start(await claim(store, t + 3 * S), t + 3 * S)).sends
    assert (sms.channel, sms.position) == ("sms", 1)
    assert [h[1] for h in await history(store, m.id)] == ["retry", "retry", "EXPIRED"]
