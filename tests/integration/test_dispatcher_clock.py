"""The dispatcher on a fake clock, over a real database: scheduled sends leave at their time and
never early, a silent channel falls back at its validity deadline, a connector that keeps
answering "retry later" cannot hold a channel past its validity — all without sleeping."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.waiting import async_value, wait_until_async
from tidings.channels.port import ReportSink
from tidings.channels.router import Router
from tidings.core.dispatch import Outcome, SendJob, SendOutcome
from tidings.core.model import CHANNELS
from tidings.engine.clock import FakeClock
from tidings.engine.dispatcher import Dispatcher, DispatchSettings
from tidings.engine.metrics import EngineMetrics
from tidings.store.base import Store
from tidings.store.records import NewChannelMessage, NewOmnimessage

S = 1_000_000
STEP = S // 4  # how far the fake clock moves at a time in the retry test


@dataclass
class Recorder:
    """A connector that records each hand-over with the (fake) time it happened at."""

    clock: FakeClock
    answer: Callable[[SendJob, int], SendOutcome]
    name: str = "recorder"
    handed: list[tuple[str, int, int]] = field(default_factory=list)  # (message id, pos, at)

    async def start(self, reports: ReportSink) -> None:
        return None

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        now = self.clock.now_us()
        self.handed += [(j.message_id, j.position, now) for j in jobs]
        return [self.answer(j, now) for j in jobs]

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        return {j.message_id: None for j in jobs}

    async def stop(self) -> None:
        return None


def accept(job: SendJob, now: int) -> SendOutcome:
    return SendOutcome(job, Outcome.ACCEPTED, "recorder", provider_ref=job.message_id)


def retry_in_2s(job: SendJob, now: int) -> SendOutcome:
    return SendOutcome(job, Outcome.RETRY, "recorder", retry_at_us=now + 2 * S)


async def until(cond: Callable[[], bool], what: str) -> None:
    """Wait (in real time, bounded) for the engine's real I/O to catch up with the fake clock."""
    await wait_until_async(async_value(cond), what, 30, interval=0.005)


async def advance_until(rig: Rig, cond: Callable[[], bool], step_s: float) -> None:
    """Move the fake clock in small steps, letting the engine's real I/O settle after each."""
    for _ in range(200):
        if cond():
            return
        await until(lambda: not rig.dispatcher._unanswered, "answers to be recorded")
        await rig.clock.advance(step_s)
        await asyncio.sleep(0.02)  # real time for the claim and start transactions
    raise AssertionError("condition not reached on the fake clock")


@dataclass
class Rig:
    store: Store
    clock: FakeClock
    connector: Recorder
    dispatcher: Dispatcher

    async def send(self, due_us: int, *channels: tuple[str, int]) -> NewOmnimessage:
        now = self.clock.now_us()
        m = NewOmnimessage(
            id=str(uuid.uuid4()),
            account_id=1,
            to="+37251000000",
            priority=1,
            time_to_send_us=due_us,
            due_us=due_us,
            dlr_url=None,
            text_store="plaintext",
            created_us=now,
            channels=tuple(
                NewChannelMessage(str(uuid.uuid4()), ch, "Tidings", v, '{"text":"hi"}')
                for ch, v in channels
            ),
        )
        await self.store.messages.insert([m])
        self.dispatcher.wake(due_us)
        return m

    async def status(self, m: NewOmnimessage) -> list[tuple[str, str | None, int | None]]:
        view = await self.store.messages.get(1, m.id)
        assert view is not None
        return [(c.state, c.status, c.err) for c in view.channels]


@pytest.fixture
async def rig_factory(store: Store) -> AsyncIterator[Callable[..., AsyncIterator[Rig]]]:
    started: list[Dispatcher] = []

    async def make(
        answer: Callable[[SendJob, int], SendOutcome] = accept,
        settings: DispatchSettings | None = None,
    ) -> Rig:
        clock = FakeClock(await store.now_us())
        connector = Recorder(clock, answer)
        router = Router(dict.fromkeys(CHANNELS, connector))
        settings = settings or DispatchSettings(safety_poll_s=1.0)
        d = Dispatcher(store, router, clock, EngineMetrics(), settings)
        await d.start()
        started.append(d)
        return Rig(store, clock, connector, d)

    yield make  # type: ignore[misc]
    for d in started:
        await d.stop()


async def test_a_scheduled_send_leaves_at_its_time_never_early(
    rig_factory: Callable[..., object],
) -> None:
    rig: Rig = await rig_factory()  # type: ignore[misc]
    t0 = rig.clock.now_us()
    m = await rig.send(t0 + 3600 * S, ("sms", 60))  # an hour ahead
    await rig.clock.advance(3600 - 0.001)  # one millisecond before
    # The attempt is started ahead (the fire lead) and waits for its instant on the clock.
    await until(lambda: bool(rig.dispatcher._unanswered), "the attempt to be started")
    assert rig.connector.handed == []
    await rig.clock.advance(0.001)
    await until(lambda: bool(rig.connector.handed), "the hand-over")
    assert rig.connector.handed == [(m.channels[0].id, 0, t0 + 3600 * S)]  # exactly on time
    await until(lambda: not rig.dispatcher._unanswered, "the answer to be recorded")
    assert await rig.status(m) == [("sent", None, None)]


async def test_a_silent_channel_falls_back_at_its_validity_deadline(
    rig_factory: Callable[..., object],
) -> None:
    rig: Rig = await rig_factory()  # type: ignore[misc]
    t0 = rig.clock.now_us()
    m = await rig.send(t0, ("whatsapp", 60), ("sms", 60))
    await until(lambda: len(rig.connector.handed) == 1, "the first channel")
    await until(lambda: not rig.dispatcher._unanswered, "its answer to be recorded")
    first_at = rig.connector.handed[0][2]
    await rig.clock.advance(59.9)
    assert len(rig.connector.handed) == 1  # still within its validity
    await rig.clock.advance(0.1)
    await until(lambda: len(rig.connector.handed) == 2, "the fallback")
    (_, pos, at) = rig.connector.handed[1]
    lead = int(DispatchSettings().fire_lead_s * S)
    assert pos == 1 and first_at + 60 * S - lead <= at <= first_at + 60 * S
    await until(lambda: not rig.dispatcher._unanswered, "its answer to be recorded")
    assert (await rig.status(m))[0] == ("expired", "EXPIRED", 2)


async def test_retry_later_forever_cannot_hold_a_channel_past_its_validity(
    rig_factory: Callable[..., object],
) -> None:
    rig: Rig = await rig_factory(retry_in_2s)  # type: ignore[misc]
    t0 = rig.clock.now_us()
    m = await rig.send(t0, ("whatsapp", 5), ("sms", 60))
    # Tries at +0, +2, +4 s; the next (+6 s) would fall past the 5 s validity: the SMS goes.
    await advance_until(rig, lambda: any(p == 1 for _, p, _ in rig.connector.handed), STEP / S)
    first = [at for _, p, at in rig.connector.handed if p == 0]
    # +0, +2, +4 s, each on the first step at or after its retry time (a step late under load:
    # then the try at +2.x s already retries past the validity, and there are two).
    assert 2 <= len(first) <= 3, first
    await until(lambda: not rig.dispatcher._unanswered, "the answers to be recorded")
    assert (await rig.status(m))[0] == ("expired", "EXPIRED", 2)
    view = await rig.store.messages.get(1, m.id)
    assert view is not None and view.channels[0].status_us is not None
    # Expired within its validity (give or take the one step the clock moved meanwhile).
    assert view.channels[0].status_us <= first[0] + 5 * S + STEP, (first, view.channels[0])


async def test_a_claim_lost_with_a_failed_start_goes_out_once_its_lease_runs_out(
    rig_factory: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database went away under a start transaction: the batch is forgotten, and its lease
    must run out so that recovery sends it (it was renewed for ever: never sent)."""
    lease_s, upkeep_s = 3.0, 1.0
    rig: Rig = await rig_factory(  # type: ignore[misc]
        settings=DispatchSettings(safety_poll_s=1.0, lease_s=lease_s, upkeep_s=upkeep_s)
    )
    real_start = rig.store.attempts.start
    failed: list[int] = []

    async def start_or_lose_the_connection(*args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(rig.clock.now_us())
            raise ConnectionResetError("the database connection was lost")
        return await real_start(*args, **kwargs)

    monkeypatch.setattr(rig.store.attempts, "start", start_or_lose_the_connection)
    t0 = rig.clock.now_us()
    m = await rig.send(t0, ("sms", 60))
    await until(lambda: bool(failed), "the failed start")
    await advance_until(rig, lambda: bool(rig.connector.handed), 0.25)
    [(message_id, _, at)] = rig.connector.handed
    assert message_id == m.channels[0].id
    # Once, after its lease ran out (it was claimed at most a look-ahead before it was due).
    lookahead_s = DispatchSettings().lookahead_s
    assert at >= t0 + int((lease_s - lookahead_s) * S), (at - t0) / S
    await until(lambda: not rig.dispatcher._unanswered, "the answer to be recorded")
    assert await rig.status(m) == [("sent", None, None)]


async def test_upkeep_forgets_idempotency_keys_older_than_a_day(
    rig_factory: Callable[..., object],
) -> None:
    rig: Rig = await rig_factory(settings=DispatchSettings(safety_poll_s=1.0, upkeep_s=5.0))
    day = 24 * 3600 * S

    async def key(name: str, created_us: int) -> None:
        await rig.store.idempotency.claim(
            1, name, "h", 1, created_us, expired_before=0, stale_before=0
        )

    async def gone(name: str) -> bool:
        return await rig.store.idempotency.get(1, name) is None

    t0 = rig.clock.now_us()
    await key("old", t0 - day - S)
    await key("young", t0 - day + 30 * S)
    await rig.clock.advance(5)  # the first upkeep purges
    await wait_until_async(lambda: gone("old"), "the expired key to be purged", 30)
    assert not await gone("young")
    # Once a minute: the young key, expired 30 s in, goes at the next purge, not before.
    await rig.clock.advance(30)
    await asyncio.sleep(0.2)
    assert not await gone("young")
    for _ in range(7):  # upkeeps at 40 ... 70 s: the one at 70 s is more than a minute on
        await rig.clock.advance(5)
    await wait_until_async(lambda: gone("young"), "the key to be purged a minute later", 30)
