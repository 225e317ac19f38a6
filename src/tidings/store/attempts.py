"""The dispatcher's transactions: start attempts, record their outcome, apply reports, recover.

Each works on a whole batch in a few statements: read (and lock) the rows involved, let the pure
state machine (`tidings.core.lifecycle`) decide each transition, then write what it decided with
executemany (`_flush`). No transition is decided here.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core import lifecycle
from tidings.core.lifecycle import Chan, Omni, TimerKind, Writes
from tidings.store import events
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import (
    Claim,
    FireResult,
    RecoveryResult,
    Report,
    SendJob,
    SendOutcome,
    StatusChange,
)
from tidings.store.tx import Row, Tx

LOAD_OMNIS = query("load_omnis")
LOAD_OMNIS_TO_FIRE = query("load_omnis_to_fire")
LOAD_CHANNELS = query("load_channels")
HELD_TIMERS = query("held_timers")
OMNIS_OF_CHANNELS = query("omnimessages_of_channels")
LOCK_TIMERS = query("lock_timers_of")
SET_OMNI = query("set_omni")
SET_CHANNEL = query("set_channel")
SET_CHANNEL_STATE = query("set_channel_state")
SET_CHANNEL_ANSWER = query("set_channel_answer")
HOLD_TIMER = query("hold_timer")
ARM_TIMER = query("arm_timer")
DROP_TIMER = query("drop_timer")
EXPIRED_LEASES = query("expired_leases")
RELEASE_TIMER = query("release_timer")
RELET_TIMER = query("relet_timer")

_FOREVER_US = 2**62  # later than any lease


def _omni(r: Row) -> Omni:
    return Omni(
        id=r["id"],
        account_id=r["account_id"],
        to=r["to_number"],
        state=r["state"],
        position=r["position"],
        dlr_url=r["dlr_url"],
    )


def _omni_to_fire(r: Row) -> Omni:
    o = _omni(r)
    o.blacklisted = bool(r["blacklisted"])
    return o


def _chan(r: Row) -> Chan:
    return Chan(
        id=r["id"],
        omnimessage_id=r["omnimessage_id"],
        position=r["position"],
        channel=r["channel"],
        sender=r["sender"],
        validity_s=r["validity_s"],
        content=r["content"],
        state=r["state"],
        status=r["status"],
        started_us=r["started_us"],
    )


async def _flush(tx: Tx, w: Writes, lease_until_us: int | None = None) -> None:
    """Write what the state machine decided for a batch. `lease_until_us` renews the lease of
    the timers it holds (attempts started)."""
    if w.omnis:
        await tx.executemany(SET_OMNI, [(k, s, p, w.now_us) for k, (s, p) in w.omnis.items()])
    # An answered message's status and the answer itself are one row write (set_channel).
    answered = w.meta.keys() & w.chans.keys()
    if w.chans:
        await tx.executemany(
            SET_CHANNEL,
            [
                (
                    k,
                    c.state,
                    c.status,
                    c.err,
                    c.error,
                    c.status_us,
                    c.parts_count,
                    c.part_price,
                    *_answer(w.meta.get(k) if k in answered else None),
                    w.started.get(k),
                )
                for k, c in w.chans.items()
            ],
        )
    if states := w.chan_states.keys() | (w.started.keys() - w.chans.keys()):
        await tx.executemany(
            SET_CHANNEL_STATE,
            [
                (k, w.chan_states.get(k), w.started.get(k) if k not in w.chans else None)
                for k in states
            ],
        )
    if meta_only := [k for k in w.meta if k not in answered]:
        await tx.executemany(
            SET_CHANNEL_ANSWER,
            [
                (k, m.connector, m.provider_ref, m.parts_count, m.handed_us)
                for k in meta_only
                for m in (w.meta[k],)
            ],
        )
    if w.hold:
        await tx.executemany(HOLD_TIMER, [(r, lease_until_us) for r in w.hold])
    if armed := w.armed():
        await tx.executemany(
            ARM_TIMER,
            [
                (k, kind, due, 1 if kind == TimerKind.SEND else 0)
                for k, (kind, due) in armed.items()
            ],
        )
    if w.drop:
        await tx.executemany(DROP_TIMER, [(r,) for r in w.drop])
    await events.record(tx, w.changes, w.now_us, w.attempts)


def _answer(m: lifecycle.AnswerMeta | None) -> tuple[object, ...]:
    """set_channel's answer parameters ($9-$13): none, or the connector's answer."""
    if m is None:
        return (False, None, None, None, None)
    return (True, m.connector, m.provider_ref, m.parts_count, m.handed_us)


async def _load(
    tx: Tx, omni_ids: Sequence[str], to_fire: bool = False
) -> tuple[dict[str, Omni], dict[str, Chan]]:
    """The omnimessages and their channels, locked. `to_fire`: with the blacklist rule's
    answer for each (`Omni.blacklisted`), read in this same transaction."""
    ids = sorted(set(omni_ids))  # a stable lock order avoids deadlocks between processes
    if to_fire:
        omnis = {o.id: o for o in map(_omni_to_fire, await tx.fetch(LOAD_OMNIS_TO_FIRE, ids))}
    else:
        omnis = {o.id: o for o in map(_omni, await tx.fetch(LOAD_OMNIS, ids))}
    chans: dict[str, Chan] = {}
    for r in await tx.fetch(LOAD_CHANNELS, ids):
        c = chans[r["id"]] = _chan(r)
        if (o := omnis.get(c.omnimessage_id)) is not None:
            o.n_channels += 1
    return omnis, chans


async def fenced(tx: Tx, claims: Sequence[Claim]) -> list[Claim]:
    """The claims whose lease this process still holds (a lost lease completes nothing)."""
    if not claims:
        return []
    held: set[tuple[int, int]] = {
        (r["id"], r["lease_token"])
        for r in await tx.fetch(HELD_TIMERS, sorted({c.timer_id for c in claims}))
    }
    return [c for c in claims if (c.timer_id, c.lease_token) in held]


def _job(timer_id: int, lease_token: int, due_us: int, o: Omni, c: Chan, now_us: int) -> SendJob:
    return SendJob(
        timer_id,
        lease_token,
        due_us,
        o.id,
        o.account_id,
        o.to,
        c.id,
        c.position,
        c.channel,
        c.sender,
        c.validity_s,
        c.content or "",
        c.deadline_us(now_us),
    )


def _index(chans: dict[str, Chan]) -> dict[tuple[str, int], Chan]:
    return {(c.omnimessage_id, c.position): c for c in chans.values()}


async def start(
    tx: Tx, claims: Sequence[Claim], now_us: int, lease_until_us: int | None = None
) -> FireResult:
    """Fire due timers: start the attempt at each message's position, or expire an attempt.

    `lease_until_us` renews the lease of the attempts started: this transaction holds their rows
    while it runs, so the owner's periodic extension (which skips locked rows) may have passed
    them over."""
    result = FireResult()
    alive = await fenced(tx, claims)
    result.lost_lease = len(claims) - len(alive)
    omnis, chans = await _load(
        tx, [c.ref for c in alive], to_fire=any(c.kind == TimerKind.SEND for c in alive)
    )
    at = _index(chans)
    # The whole chain matters only to a blocked message (the rule rejects all of it).
    chains: dict[str, list[Chan]] = {}
    if any(o.blacklisted for o in omnis.values()):
        for ch in chans.values():
            chains.setdefault(ch.omnimessage_id, []).append(ch)
    w = Writes(now_us)
    for claim in alive:
        o = omnis.get(claim.ref)
        c = at.get((claim.ref, o.position)) if o else None
        if o is None or c is None:
            w.drop.add(claim.ref)
            continue
        if claim.kind == TimerKind.SEND:
            result.cancelled += o.state == "cancelled"
            if lifecycle.on_fire_send(w, o, c, chains.get(o.id, ())):
                result.sends.append(
                    _job(claim.timer_id, claim.lease_token, claim.due_us, o, c, now_us)
                )
        else:
            lifecycle.on_deadline(w, o, c)
    await _flush(tx, w, lease_until_us)
    result.changes = w.changes
    return result


async def finish(
    tx: Tx, outcomes: Sequence[SendOutcome], now_us: int
) -> tuple[list[StatusChange], int]:
    """Record what each connector said. Returns the status changes and the lost-lease count."""
    jobs = [o.job for o in outcomes]
    alive_claims = await fenced(
        tx,
        [
            Claim(j.timer_id, TimerKind.ATTEMPT, j.omnimessage_id, j.due_us, 0, j.lease_token)
            for j in jobs
        ],
    )
    held = {c.timer_id for c in alive_claims}
    omnis, chans = await _load(tx, [j.omnimessage_id for j in jobs])
    w = Writes(now_us)
    lost = 0
    for out in outcomes:
        j = out.job
        o, c = omnis.get(j.omnimessage_id), chans.get(j.message_id)
        if o is None or c is None:
            continue
        lost += lifecycle.on_answer(w, o, c, out, lease_held=j.timer_id in held)
    await _flush(tx, w)
    return w.changes, lost


async def apply_reports(tx: Tx, reports: Sequence[Report], now_us: int) -> list[StatusChange]:
    """Apply delivery reports in time order; duplicates and stale ones change nothing."""
    rows = await tx.fetch(OMNIS_OF_CHANNELS, sorted({r.message_id for r in reports}))
    omni_ids = sorted({r["omnimessage_id"] for r in rows})
    # Lock order everywhere: timers (by id), then omnimessages, then channel messages.
    await tx.fetch(LOCK_TIMERS, omni_ids)
    omnis, chans = await _load(tx, omni_ids)
    w = Writes(now_us)
    for rep in sorted(reports, key=lambda r: r.at_us):
        c = chans.get(rep.message_id)
        o = omnis.get(c.omnimessage_id) if c else None
        if c is not None and o is not None:
            lifecycle.on_report(w, o, c, rep)
    await _flush(tx, w)
    return w.changes


async def recover(
    tx: Tx,
    owner: str,
    lease_token: int,
    now_us: int,
    lease_until_us: int,
    limit: int = 10_000,
    every_lease: bool = False,
) -> RecoveryResult:
    """Take back timers whose lease ran out (`every_lease`: all leases, when no other live
    process can hold one).

    A send timer that never fired goes back to pending. An attempt timer still claimed means its
    process died mid-send: the channel message becomes `unknown` and the timer is re-leased to
    this process, which must reconcile it with the connector (never resend blindly).
    """
    rows = [
        Claim.from_row(r, lease_token)
        for r in await tx.fetch(EXPIRED_LEASES, _FOREVER_US if every_lease else now_us, limit)
    ]
    sends = [c for c in rows if c.kind == TimerKind.SEND]
    attempts = [c for c in rows if c.kind == TimerKind.ATTEMPT]
    if sends:
        await tx.executemany(RELEASE_TIMER, [(c.timer_id,) for c in sends])
    unknown: list[SendJob] = []
    if attempts:
        await tx.executemany(
            RELET_TIMER, [(c.timer_id, owner, lease_token, lease_until_us) for c in attempts]
        )
        omnis, chans = await _load(tx, [c.ref for c in attempts])
        at = _index(chans)
        w = Writes(now_us)
        for claim in attempts:
            o = omnis.get(claim.ref)
            c = at.get((claim.ref, o.position)) if o else None
            if o is None or c is None:
                continue
            lifecycle.on_recovered(w, o, c)
            unknown.append(_job(claim.timer_id, lease_token, claim.due_us, o, c, now_us))
        await _flush(tx, w)
    return RecoveryResult(len(sends), tuple(unknown))


class Attempts(Port):
    """The dispatcher's transactions over the state machine (core/lifecycle.py)."""

    async def start(
        self, claims: Sequence[Claim], now_us: int, lease_until_us: int | None = None
    ) -> FireResult:
        return await self._db.transact(
            lambda tx: start(tx, claims, now_us, lease_until_us), urgent=True
        )

    async def finish(
        self, outcomes: Sequence[SendOutcome], now_us: int
    ) -> tuple[list[StatusChange], int]:
        return await self._db.transact(lambda tx: finish(tx, outcomes, now_us))

    async def apply_reports(self, reports: Sequence[Report], now_us: int) -> list[StatusChange]:
        return await self._db.transact(lambda tx: apply_reports(tx, reports, now_us))

    async def recover(
        self,
        owner: str,
        lease_token: int,
        now_us: int,
        lease_until_us: int,
        every_lease: bool = False,
    ) -> RecoveryResult:
        return await self._db.transact(
            lambda tx: recover(
                tx, owner, lease_token, now_us, lease_until_us, every_lease=every_lease
            )
        )
