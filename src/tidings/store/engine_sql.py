"""The dispatcher's transactions: start attempts, record their outcome, apply reports, recover.

Each works on a whole batch in a few statements: read (and lock) the rows involved, let the pure
state machine (`tidings.core.lifecycle`) decide each transition, then write what it decided with
executemany (`_flush`). No transition is decided here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from tidings.core import lifecycle
from tidings.core.lifecycle import Chan, Omni, TimerKind, Writes
from tidings.store import events_sql
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

LOAD_OMNIS = (
    "SELECT id, account_id, to_number, state, position, dlr_url FROM omnimessages"
    " WHERE id IN_TEXT($1) ORDER BY id FOR_UPDATE"
)
LOAD_CHANNELS = (
    "SELECT id, omnimessage_id, position, channel, sender, validity_s, content, state, status,"
    " started_us FROM channel_messages WHERE omnimessage_id IN_TEXT($1)"
    " ORDER BY omnimessage_id, position FOR_UPDATE"
)
SET_OMNI = "UPDATE omnimessages SET state = $2, position = $3, updated_us = $4 WHERE id = $1"
SET_CHANNEL = (
    "UPDATE channel_messages SET state = $2, status = $3, err = $4, error = $5, status_us = $6,"
    " parts_count = COALESCE($7, parts_count), part_price = COALESCE($8, part_price) WHERE id = $1"
)
SET_CHANNEL_STATE = "UPDATE channel_messages SET state = $2 WHERE id = $1"
SET_CHANNEL_STARTED = "UPDATE channel_messages SET started_us = $2 WHERE id = $1"
SET_CHANNEL_ANSWER = (
    "UPDATE channel_messages SET connector = $2, provider_ref = $3,"
    " parts_count = COALESCE($4, parts_count), sent_us = COALESCE($5, sent_us) WHERE id = $1"
)
HOLD_TIMER = (
    "UPDATE timers SET kind = 'attempt', lease_until_us = COALESCE($2, lease_until_us)"
    " WHERE ref = $1 AND kind IN ('send', 'attempt')"
)
ARM_TIMER = (
    "UPDATE timers SET kind = $2, due_us = $3, state = 'pending', lease_owner = NULL,"
    " lease_token = NULL, lease_until_us = NULL, attempts = attempts + $4"
    " WHERE ref = $1 AND kind IN ('send', 'attempt')"
)
DROP_TIMER = "DELETE FROM timers WHERE ref = $1 AND kind IN ('send', 'attempt')"
_FOREVER_US = 2**62  # later than any lease
HELD_TIMERS = (
    "SELECT id, lease_token FROM timers WHERE id IN_BIGINT($1) AND state = 'claimed'"
    " ORDER BY id FOR_UPDATE"
)


def _omni(r: Row) -> Omni:
    return Omni(id=r[0], account_id=r[1], to=r[2], state=r[3], position=r[4], dlr_url=r[5])


def _chan(r: Row) -> Chan:
    return Chan(
        id=r[0],
        omnimessage_id=r[1],
        position=r[2],
        channel=r[3],
        sender=r[4],
        validity_s=r[5],
        content=r[6],
        state=r[7],
        status=r[8],
        started_us=r[9],
    )


async def _flush(tx: Tx, w: Writes, lease_until_us: int | None = None) -> None:
    """Write what the state machine decided for a batch. `lease_until_us` renews the lease of
    the timers it holds (attempts started)."""
    if w.omnis:
        await tx.executemany(SET_OMNI, [(k, s, p, w.now_us) for k, (s, p) in w.omnis.items()])
    if w.chans:
        await tx.executemany(
            SET_CHANNEL,
            [
                (k, c.state, c.status, c.err, c.error, c.status_us, c.parts_count, c.part_price)
                for k, c in w.chans.items()
            ],
        )
    if w.chan_states:
        await tx.executemany(SET_CHANNEL_STATE, list(w.chan_states.items()))
    if w.started:
        await tx.executemany(SET_CHANNEL_STARTED, list(w.started.items()))
    if w.meta:
        await tx.executemany(
            SET_CHANNEL_ANSWER,
            [
                (k, m.connector, m.provider_ref, m.parts_count, m.handed_us)
                for k, m in w.meta.items()
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
    await events_sql.record(tx, w.changes, w.now_us, w.attempts)


async def _load(tx: Tx, omni_ids: Sequence[str]) -> tuple[dict[str, Omni], dict[str, Chan]]:
    ids = sorted(set(omni_ids))  # a stable lock order avoids deadlocks between processes
    omnis = {r[0]: _omni(r) for r in await tx.fetch(LOAD_OMNIS, ids)}
    chans: dict[str, Chan] = {}
    for r in await tx.fetch(LOAD_CHANNELS, ids):
        chans[r[0]] = _chan(r)
        if (o := omnis.get(r[1])) is not None:
            o.n_channels += 1
    return omnis, chans


async def _fenced(tx: Tx, claims: Sequence[Claim]) -> list[Claim]:
    """The claims whose lease this process still holds (a lost lease completes nothing)."""
    if not claims:
        return []
    held: set[tuple[int, int]] = {
        (r[0], r[1]) for r in await tx.fetch(HELD_TIMERS, sorted({c.timer_id for c in claims}))
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


async def start_attempts(
    tx: Tx, claims: Sequence[Claim], now_us: int, lease_until_us: int | None = None
) -> FireResult:
    """Fire due timers: start the attempt at each message's position, or expire an attempt.

    `lease_until_us` renews the lease of the attempts started: this transaction holds their rows
    while it runs, so the owner's periodic extension (which skips locked rows) may have passed
    them over."""
    result = FireResult()
    alive = await _fenced(tx, claims)
    result.lost_lease = len(claims) - len(alive)
    omnis, chans = await _load(tx, [c.ref for c in alive])
    at = _index(chans)
    w = Writes(now_us)
    for claim in alive:
        o = omnis.get(claim.ref)
        c = at.get((claim.ref, o.position)) if o else None
        if o is None or c is None:
            w.drop.add(claim.ref)
            continue
        if claim.kind == TimerKind.SEND:
            result.cancelled += o.state == "cancelled"
            if lifecycle.on_fire_send(w, o, c):
                result.sends.append(
                    _job(claim.timer_id, claim.lease_token, claim.due_us, o, c, now_us)
                )
        else:
            lifecycle.on_deadline(w, o, c)
    await _flush(tx, w, lease_until_us)
    result.changes = w.changes
    return result


async def finish_attempts(
    tx: Tx, outcomes: Sequence[SendOutcome], now_us: int
) -> tuple[list[StatusChange], int]:
    """Record what each connector said. Returns the status changes and the lost-lease count."""
    jobs = [o.job for o in outcomes]
    alive_claims = await _fenced(
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
    rows: list[Row] = await tx.fetch(
        "SELECT omnimessage_id FROM channel_messages WHERE id IN_TEXT($1)",
        sorted({r.message_id for r in reports}),
    )
    omni_ids = sorted({r[0] for r in rows})
    # Lock order everywhere: timers (by id), then omnimessages, then channel messages.
    await tx.fetch("SELECT id FROM timers WHERE ref IN_TEXT($1) ORDER BY id FOR_UPDATE", omni_ids)
    omnis, chans = await _load(tx, omni_ids)
    w = Writes(now_us)
    for rep in sorted(reports, key=lambda r: r.at_us):
        c = chans.get(rep.message_id)
        o = omnis.get(c.omnimessage_id) if c else None
        if c is not None and o is not None:
            lifecycle.on_report(w, o, c, rep)
    await _flush(tx, w)
    return w.changes


def group_by_token(claims: Sequence[Claim]) -> dict[int, list[Claim]]:
    out: dict[int, list[Claim]] = defaultdict(list)
    for c in claims:
        out[c.lease_token].append(c)
    return out


async def recover_expired(
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
    rows = await tx.fetch(
        "SELECT id, kind, ref, due_us, priority FROM timers WHERE state = 'claimed'"
        " AND lease_until_us < $1 ORDER BY id LIMIT $2 FOR_UPDATE_SKIP",
        _FOREVER_US if every_lease else now_us,
        limit,
    )
    sends = [r for r in rows if r[1] == TimerKind.SEND]
    attempts = [r for r in rows if r[1] == TimerKind.ATTEMPT]
    if sends:
        await tx.executemany(
            "UPDATE timers SET state = 'pending', lease_owner = NULL, lease_token = NULL,"
            " lease_until_us = NULL WHERE id = $1",
            [(r[0],) for r in sends],
        )
    unknown: list[SendJob] = []
    if attempts:
        await tx.executemany(
            "UPDATE timers SET lease_owner = $2, lease_token = $3, lease_until_us = $4 WHERE id = $1",
            [(r[0], owner, lease_token, lease_until_us) for r in attempts],
        )
        omnis, chans = await _load(tx, [r[2] for r in attempts])
        at = _index(chans)
        w = Writes(now_us)
        for r in attempts:
            o = omnis.get(r[2])
            c = at.get((r[2], o.position)) if o else None
            if o is None or c is None:
                continue
            lifecycle.on_recovered(w, o, c)
            unknown.append(_job(r[0], lease_token, r[3], o, c, now_us))
        await _flush(tx, w)
    return RecoveryResult(len(sends), tuple(unknown))


async def release_owned(tx: Tx, owner: str) -> int:
    """On shutdown: give back send timers claimed but not fired."""
    return await tx.execute(
        "UPDATE timers SET state = 'pending', lease_owner = NULL, lease_token = NULL,"
        " lease_until_us = NULL WHERE id IN (SELECT id FROM timers WHERE state = 'claimed'"
        " AND lease_owner = $1 AND kind = 'send' ORDER BY id FOR_UPDATE_SKIP)",
        owner,
    )


async def extend_leases(tx: Tx, owner: str, lease_until_us: int, tokens: Sequence[int]) -> int:
    """Renew this process's leases taken under `tokens`, passing over rows another transaction
    holds.

    Only the tokens of work the process still has in hand: a claim it lost track of (a start
    transaction or a claim whose answer never arrived, the database gone meanwhile) must run out
    and be recovered, not be renewed for ever by the process that forgot it.

    Waiting for locked rows instead formed lock convoys under a burst: the extension held the
    rows it had already locked while waiting for the next, so finishers and reports queued behind
    it for seconds (and leases ran out meanwhile). A row skipped here is held either by this
    process's own start transaction, which renews the lease itself (`start_attempts`), or by a
    transaction that ends its attempt; recovery skips locked rows too, so it cannot take one
    meanwhile."""
    return await tx.execute(
        "UPDATE timers SET lease_until_us = $2 WHERE id IN (SELECT id FROM timers"
        " WHERE state = 'claimed' AND lease_owner = $1 AND lease_token IN_BIGINT($3)"
        " ORDER BY id FOR_UPDATE_SKIP)",
        owner,
        lease_until_us,
        list(tokens),
    )


# One index probe per priority on timers_pending_due (priority, due_us); a plain MIN over all
# pending rows would walk the whole partial index (70 ms with 1 000 000 pending).
NEXT_DUE_SQL = (
    "SELECT MIN(d) FROM ("
    " SELECT MIN(due_us) AS d FROM timers WHERE state = 'pending' AND priority = 2"
    " UNION ALL SELECT MIN(due_us) FROM timers WHERE state = 'pending' AND priority = 1"
    " UNION ALL SELECT MIN(due_us) FROM timers WHERE state = 'pending' AND priority = 0"
    ") m"
)


async def next_due_us(tx: Tx) -> int | None:
    rows = await tx.fetch(NEXT_DUE_SQL)
    return rows[0][0] if rows and rows[0][0] is not None else None


async def pending_count(tx: Tx) -> int:
    """Timers waiting (scheduled sends and running attempts' deadlines), counted on the
    partial index alone."""
    rows = await tx.fetch("SELECT COUNT(*) FROM timers WHERE state = 'pending'")
    return int(rows[0][0])
