"""Quiet hours through the front door, over a real database and a fake clock: a message due
inside the recipient's window is stored due at the window's end — across the DST changes of
Europe/Tallinn (+372 numbers carry Europe/Bucharest, the same EU rules) and America/New_York —
with `moved_by`; the request's own window or `null` overrides the account's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from tidings import runtime
from tidings.engine.clock import FakeClock
from tidings.engine.service import Engine, EngineSettings
from tidings.store.base import Store
from tidings.store.records import Account
from tidings.store.schedule import ListQuery
from tidings.store.urls import parse_database_url

EE = "+37251234567"
NY = "+12125551234"


def us(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def body(to: str, **extra: Any) -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": "hi"}], **extra}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(us("2026-01-15T12:00:00+00:00"))


@pytest.fixture
async def engine(store: Store, database_url: str, clock: FakeClock) -> AsyncIterator[Engine]:
    settings = runtime.ServeSettings(
        database=parse_database_url(database_url), engine=EngineSettings(dispatch_enabled=False)
    )
    built = runtime.build_engine(store, settings)
    yield Engine(store, built.router, built.settings, clock=clock)


async def account(store: Store, quiet_hours: str | None) -> Account:
    await runtime.create_account(store, "alice", "pw", "AliceCo")
    if quiet_hours is not None:
        await store.accounts.update("alice", quiet_hours=quiet_hours)
    found = await store.accounts.get("alice")
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("now", "to", "due"),
    [
        # the night before Tallinn's spring-forward: 08:00 is at +03:00
        ("2026-03-28T23:00:00+02:00", EE, "2026-03-29T08:00:00+03:00"),
        # the night of its fall-back: 08:00 is at +02:00
        ("2026-10-24T23:00:00+03:00", EE, "2026-10-25T08:00:00+02:00"),
        ("2026-03-07T22:00:00-05:00", NY, "2026-03-08T08:00:00-04:00"),
        ("2026-10-31T22:00:00-04:00", NY, "2026-11-01T08:00:00-05:00"),
    ],
)
async def test_sent_now_inside_the_window_is_held_to_its_end_across_dst(
    engine: Engine, store: Store, clock: FakeClock, now: str, to: str, due: str
) -> None:
    alice = await account(store, "21:00-08:00")
    await clock.advance((us(now) - clock.now_us()) / 1_000_000)

    record = await engine.submit(alice, body(to))

    assert (record.due_us, record.moved_by) == (us(due), "quiet_hours")
    assert record.time_to_send_us is None
    stored = await store.timers.next_due_us()
    assert stored == us(due)


async def test_outside_the_window_nothing_moves(engine: Engine, store: Store) -> None:
    alice = await account(store, "21:00-08:00")
    record = await engine.submit(alice, body(EE))  # 14:00 in Tallinn
    assert record.moved_by is None and record.due_us == record.created_us


async def test_a_scheduled_time_inside_the_window_is_moved_too(
    engine: Engine, store: Store
) -> None:
    alice = await account(store, "21:00-08:00")
    record = await engine.submit(alice, body(NY, time_to_send="2026-01-16T03:00:00Z"))
    # 22:00 in New York on the 15th: held to 08:00 EST on the 16th
    assert record.time_to_send_us == us("2026-01-16T03:00:00+00:00")
    assert (record.due_us, record.moved_by) == (us("2026-01-16T13:00:00+00:00"), "quiet_hours")


async def test_the_request_overrides_the_account(
    engine: Engine, store: Store, clock: FakeClock
) -> None:
    alice = await account(store, "21:00-08:00")
    await clock.advance((us("2026-01-15T23:00:00+02:00") - clock.now_us()) / 1_000_000)

    ignored = await engine.submit(alice, body(EE, quiet_hours=None))
    own = await engine.submit(alice, body(EE, quiet_hours="22:30-23:30"))

    assert ignored.moved_by is None and ignored.due_us == clock.now_us()
    assert (own.due_us, own.moved_by) == (us("2026-01-15T23:30:00+02:00"), "quiet_hours")


async def test_no_window_anywhere(engine: Engine, store: Store, clock: FakeClock) -> None:
    alice = await account(store, None)
    await clock.advance((us("2026-01-15T23:00:00+02:00") - clock.now_us()) / 1_000_000)
    record = await engine.submit(alice, body(EE))
    assert record.moved_by is None and record.due_us == clock.now_us()


# -- a reschedule applies the same quiet hours to its new time (issue 12) ----------------------


async def reschedule(engine: Engine, who: Account, omni_id: str, at: str) -> tuple[int, str | None]:
    result = await engine.reschedule(who, omni_id, {"time_to_send": at})
    assert result is not None
    state, tts, due, moved_by = result
    assert state == "scheduled" and tts == us(at)
    found = await engine.store.schedule.inspect(who.id, omni_id)
    assert found is not None
    assert (found.message.due_us, found.message.moved_by) == (due, moved_by)
    assert found.message.time_to_send_us == tts
    return due, moved_by


@pytest.mark.parametrize(
    ("to", "into", "held_to"),
    [
        # into the night of Tallinn's spring-forward, and of its fall-back
        (EE, "2026-03-29T01:30:00+02:00", "2026-03-29T08:00:00+03:00"),
        (EE, "2026-10-25T03:30:00+03:00", "2026-10-25T08:00:00+02:00"),
        # New York's: 02:30 does not exist on 2026-03-08; 01:30 happens twice on 2026-11-01
        (NY, "2026-03-08T07:30:00+00:00", "2026-03-08T08:00:00-04:00"),
        (NY, "2026-11-01T01:30:00-05:00", "2026-11-01T08:00:00-05:00"),
    ],
)
async def test_a_reschedule_into_the_window_is_held_across_dst(
    engine: Engine, store: Store, to: str, into: str, held_to: str
) -> None:
    alice = await account(store, "21:00-08:00")
    record = await engine.submit(alice, body(to, time_to_send="2026-02-01T17:00:00Z"))
    assert record.moved_by is None

    assert await reschedule(engine, alice, record.id, into) == (us(held_to), "quiet_hours")
    # and out of it again: the hold is cleared
    assert await reschedule(engine, alice, record.id, "2026-02-02T17:00:00Z") == (
        us("2026-02-02T17:00:00+00:00"),
        None,
    )


async def test_a_held_message_rescheduled_out_of_the_window_is_no_longer_held(
    engine: Engine, store: Store, clock: FakeClock
) -> None:
    alice = await account(store, "21:00-08:00")
    await clock.advance((us("2026-01-15T23:00:00+02:00") - clock.now_us()) / 1_000_000)
    record = await engine.submit(alice, body(EE))
    assert record.moved_by == "quiet_hours"

    out = "2026-01-16T10:00:00+02:00"
    assert await reschedule(engine, alice, record.id, out) == (us(out), None)
    page = await store.schedule.page(
        ListQuery(alice.id, "due", "scheduled", None, None, None, None, None, 10)
    )
    assert [(i.id, i.moved_by, i.due_us) for i in page] == [(record.id, None, us(out))]


async def test_a_reschedule_keeps_the_messages_own_quiet_hours(
    engine: Engine, store: Store
) -> None:
    alice = await account(store, "21:00-08:00")
    ignored = await engine.submit(
        alice, body(EE, quiet_hours=None, time_to_send="2026-02-01T17:00")
    )
    own = await engine.submit(
        alice, body(EE, quiet_hours="12:00-14:00", time_to_send="2026-02-01T17:00")
    )
    night = "2026-01-16T23:00:00+02:00"  # inside the account's window

    assert await reschedule(engine, alice, ignored.id, night) == (us(night), None)
    assert await reschedule(engine, alice, own.id, night) == (us(night), None)
    noon = "2026-01-16T12:30:00+02:00"  # inside the message's own window only
    assert await reschedule(engine, alice, own.id, noon) == (
        us("2026-01-16T14:00:00+02:00"),
        "quiet_hours",
    )


async def test_a_reschedule_applies_the_accounts_window_as_it_is_now(
    engine: Engine, store: Store
) -> None:
    alice = await account(store, None)
    record = await engine.submit(alice, body(NY, time_to_send="2026-02-01T17:00:00Z"))
    await store.accounts.update("alice", quiet_hours="20:00-09:00")
    alice = await account_now(store)

    # 23:00 in New York (EST): held to 09:00 the next morning
    at = "2026-01-21T04:00:00Z"
    assert await reschedule(engine, alice, record.id, at) == (
        us("2026-01-21T09:00:00-05:00"),
        "quiet_hours",
    )


async def test_a_paused_message_rescheduled_into_the_window_is_held(
    engine: Engine, store: Store
) -> None:
    alice = await account(store, "21:00-08:00")
    record = await engine.submit(
        alice, body(EE, batch="night", time_to_send="2026-02-01T17:00:00Z")
    )
    assert await engine.pause_batch(alice, "night") == 1
    result = await engine.reschedule(alice, record.id, {"time_to_send": "2026-01-20T22:00:00Z"})
    assert result is not None
    state, _tts, due, moved_by = result
    # 00:00 in Tallinn (EET): held to 08:00
    assert (state, due, moved_by) == ("paused", us("2026-01-21T08:00:00+02:00"), "quiet_hours")


async def account_now(store: Store) -> Account:
    found = await store.accounts.get("alice")
    assert found is not None
    return found
