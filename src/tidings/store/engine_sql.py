"""The dispatcher's transactions: start attempts, record their outcome, apply reports, recover.

Each works on a whole batch in a few statements: read (and lock) the rows involved, decide each
transition in Python with the rules of `tidings.core.transitions`, then write with executemany.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from tidings.core.dispatch import Outcome
from tidings.core.model import ERR_TEXT, ChannelState, OmniState
from tidings.core.transitions import (
    FINAL_CHANNEL_STATES,
    ends_attempt_in_failure,
    ends_walk_successfully,
    state_after_report,
)
from tidings.store.outbox_sql import enqueue_webhooks
from tidings.store.records import (
    Claim,
    FireResult,
    RecoveryResult,
    Report,
    SendJob,
    SendOutcome,
    StatusChange,
    TimerKind,
)
from tidings.store.tx import Row, Tx

MAX_TEMPORARY_RETRIES = 5


@dataclass(slots=True)
class _Omni:
    id: str
    account_id: int
    to: str
    state: str
    position: int
    dlr_url: str | None
    n_channels: int = 0


@dataclass(slots=True)
class _Chan:
    id: str
    omnimessage_id: str
    position: int
    channel: str
    sender: str
    validity_s: int
    content: str | None
    state: str
    status: str | None


@dataclass(slots=True)
class _Plan:
    """Writes decided for one batch, flushed together."""

    now_us: int
    lease_until_us: int | None = None  # started attempts' new lease end (None: unchanged)
    omnis: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (state, position)
    chans: dict[str, tuple[object, ...]] = field(default_factory=dict)
    chan_states: dict[str, str] = field(default_factory=dict)
    chan_meta: dict[str, tuple[str | None, str | None, int | None, int | None]] = field(
        default_factory=dict
    )
    timer_attempt: list[str] = field(default_factory=list)  # refs: send -> attempt, lease kept
    timer_release: dict[str, tuple[str, int]] = field(default_factory=dict)  # ref -> (kind, due)
    timer_delete: set[str] = field(default_factory=set)
    changes: list[StatusChange] = field(default_factory=list)

    def set_chan(
        self,
        c: _Chan,
        state: str,
        status: str | None,
        err: int | None,
        error: str | None,
        status_us: int | None,
        sent_us: int | None = None,
        parts_count: int | None = None,
        part_price: str | None = None,
    ) -> None:
        c.state, c.status = state, status
        self.chans[c.id] = (state, status, err, error, status_us, sent_us, parts_count, part_price)

    def set_state(self, c: _Chan, state: str) -> None:
        """Change only the state, keeping the latest status, err and timestamp."""
        c.state = state
        if c.id in self.chans:
            self.chans[c.id] = (state, *self.chans[c.id][1:])
        else:
            self.chan_states[c.id] = state

    def record_status(
        self,
        o: _Omni,
        c: _Chan,
        status: str,
        err: int | None,
        error: str | None,
        at_us: int,
        parts_count: int | None = None,
        part_price: str | None = None,
    ) -> None:
        self.changes.append(
            StatusChange(
                o.id,
                c.id,
                o.account_id,
                o.to,
                c.channel,
                c.sender,
                status,
                err,
                error,
                at_us,
                o.dlr_url,
                parts_count,
                part_price,
            )
        )

    def set_omni(self, o: _Omni, state: str, position: int) -> None:
        o.state, o.position = state, position
        self.omnis[o.id] = (state, position)

    async def flush(self, tx: Tx) -> None:
        if self.omnis:
            await tx.executemany(
                "UPDATE omnimessages SET state = $2, position = $3, updated_us = $4 WHERE id = $1",
                [(k, s, p, self.now_us) for k, (s, p) in self.omnis.items()],
            )
        if self.chans:
            await tx.executemany(
                "UPDATE channel_messages SET state = $2, status = $3, err = $4, error = $5,"
                " status_us = $6, sent_us = COALESCE($7, sent_us),"
                " parts_count = COALESCE($8, parts_count), part_price = COALESCE($9, part_price)"
                " WHERE id = $1",
                [(k, *v) for k, v in self.chans.items()],
            )
        if self.chan_states:
            await tx.executemany(
                "UPDATE channel_messages SET state = $2 WHERE id = $1",
                list(self.chan_states.items()),
            )
        if self.chan_meta:
            await tx.executemany(
                "UPDATE channel_messages SET connector = $2, provider_ref = $3,"
                " parts_count = COALESCE($4, parts_count), sent_us = COALESCE($5, sent_us)"
                " WHERE id = $1",
                [(k, *v) for k, v in self.chan_meta.items()],
            )
        if self.timer_attempt:
            await tx.executemany(
                "UPDATE timers SET kind = 'attempt', lease_until_us = COALESCE($2, lease_until_us)"
                " WHERE ref = $1 AND kind IN ('send', 'attempt')",
                [(r, self.lease_until_us) for r in self.timer_attempt],
            )
        release = {k: v for k, v in self.timer_release.items() if k not in self.timer_delete}
        if release:
            await tx.executemany(
                "UPDATE timers SET kind = $2, due_us = $3, state = 'pending', lease_owner = NULL,"
                " lease_token = NULL, lease_until_us = NULL, attempts = attempts + $4"
                " WHERE ref = $1 AND kind IN ('send', 'attempt')",
                [
                    (k, kind, due, 1 if kind == TimerKind.SEND else 0)
                    for k, (kind, due) in release.items()
                ],
            )
        if self.timer_delete:
            await tx.executemany(
                "DELETE FROM timers WHERE ref = $1 AND kind IN ('send', 'attempt')",
                [(r,) for r in self.timer_delete],
            )
        await enqueue_webhooks(tx, self.changes, self.now_us)


def _advance(plan: _Plan, o: _Omni, failed: _Chan) -> None:
    """After the current attempt failed: try the next channel now, or end the walk."""
    if o.state != OmniState.PROCESSING or failed.position != o.position:
        return  # an abandoned attempt, or the walk is over: never start a second walk
    if o.position + 1 < o.n_channels:
        plan.set_omni(o, OmniState.PROCESSING, o.position + 1)
        plan.timer_release[o.id] = (TimerKind.SEND, plan.now_us)
    else:
        end = OmniState.EXPIRED if failed.state == ChannelState.EXPIRED else OmniState.FAILED
        plan.set_omni(o, end, o.position)
        plan.timer_delete.add(o.id)


def _after_final(plan: _Plan, o: _Omni, c: _Chan) -> None:
    if ends_walk_successfully(c.state):
        if o.state == OmniState.PROCESSING and c.position == o.position:
            plan.set_omni(o, OmniState.DELIVERED, o.position)
            plan.timer_delete.add(o.id)
    elif ends_attempt_in_failure(c.state):
        _advance(plan, o, c)


async def _load(tx: Tx, omni_ids: Sequence[str]) -> tuple[dict[str, _Omni], dict[str, _Chan]]:
    ids = sorted(set(omni_ids))  # a stable lock order avoids deadlocks between processes
    omnis = {
        r[0]: _Omni(r[0], r[1], r[2], r[3], r[4], r[5])
        for r in await tx.fetch(
            "SELECT id, account_id, to_number, state, position, dlr_url FROM omnimessages"
            " WHERE id IN_TEXT($1) ORDER BY id FOR_UPDATE",
            ids,
        )
    }
    chans: dict[str, _Chan] = {}
    for r in await tx.fetch(
        "SELECT id, omnimessage_id, position, channel, sender, validity_s, content, state, status"
        " FROM channel_messages WHERE omnimessage_id IN_TEXT($1) ORDER BY omnimessage_id, position"
        " FOR_UPDATE",
        ids,
    ):
        chans[r[0]] = _Chan(*r)
        if (o := omnis.get(r[1])) is not None:
            o.n_channels += 1
    return omnis, chans


def _at(chans: dict[str, _Chan], omni_id: str, position: int) -> _Chan | None:
    for c in chans.values():
        if c.omnimessage_id == omni_id and c.position == position:
            return c
    return None


async def _fenced(tx: Tx, claims: Sequence[Claim]) -> list[Claim]:
    """The claims whose lease this process still holds (a lost lease completes nothing)."""
    if not claims:
        return []
    held: set[tuple[int, int]] = {
        (r[0], r[1])
        for r in await tx.fetch(
            "SELECT id, lease_token FROM timers WHERE id IN_BIGINT($1) AND state = 'claimed'"
            " ORDER BY id FOR_UPDATE",
            sorted({c.timer_id for c in claims}),
        )
    }
    return [c for c in claims if (c.timer_id, c.lease_token) in held]


def _job(timer_id: int, lease_token: int, due_us: int, o: _Omni, c: _Chan) -> SendJob:
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
    )


def _index(chans: dict[str, _Chan]) -> dict[tuple[str, int], _Chan]:
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
    plan = _Plan(now_us, lease_until_us)
    for claim in alive:
        o = omnis.get(claim.ref)
        c = at.get((claim.ref, o.position)) if o else None
        if o is None or c is None:
            plan.timer_delete.add(claim.ref)
            continue
        if claim.kind == TimerKind.SEND:
            if o.state not in (OmniState.SCHEDULED, OmniState.PROCESSING):
                result.cancelled += o.state == OmniState.CANCELLED
                plan.timer_delete.add(o.id)
                continue
            if c.state != ChannelState.PENDING:
                plan.timer_release[o.id] = (TimerKind.ATTEMPT, now_us + c.validity_s * 1_000_000)
                continue
            plan.set_omni(o, OmniState.PROCESSING, o.position)
            plan.set_chan(c, ChannelState.SENDING, None, None, None, None)  # sent_us: at hand-over
            plan.timer_attempt.append(o.id)
            result.sends.append(_job(claim.timer_id, claim.lease_token, claim.due_us, o, c))
        else:  # the attempt's validity ran out with no final report
            if c.state in (ChannelState.SENT, ChannelState.SENDING, ChannelState.UNKNOWN):
                plan.set_chan(c, ChannelState.EXPIRED, "EXPIRED", 2, ERR_TEXT[2], now_us)
                plan.record_status(o, c, "EXPIRED", 2, ERR_TEXT[2], now_us)
            if o.state == OmniState.PROCESSING and c.state in (
                ChannelState.EXPIRED,
                ChannelState.FAILED,
                ChannelState.DELIVERED,
                ChannelState.SEEN,
            ):
                _after_final(plan, o, c)
            if o.id not in plan.timer_release:
                plan.timer_delete.add(o.id)
    await plan.flush(tx)
    result.changes = plan.changes
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
    plan = _Plan(now_us)
    lost = 0
    for out in outcomes:
        j = out.job
        o, c = omnis.get(j.omnimessage_id), chans.get(j.message_id)
        if o is None or c is None:
            continue
        if out.outcome == Outcome.ACCEPTED:
            plan.chan_meta[c.id] = (out.connector, out.provider_ref, out.parts_count, out.handed_us)
        elif out.outcome == Outcome.UNKNOWN:
            # Which connector may have it: its callbacks can still name the message by our id.
            plan.chan_meta[c.id] = (out.connector, None, out.parts_count, None)
        if j.timer_id not in held:
            # A final report already ended the attempt (normal with fast receipts), or a
            # recovery took the timer over (a lost lease): record facts only.
            lost += c.state not in FINAL_CHANNEL_STATES
            continue
        deadline = now_us + c.validity_s * 1_000_000
        if out.outcome == Outcome.ACCEPTED:
            if c.state in (ChannelState.SENDING, ChannelState.UNKNOWN):
                if out.status is not None and c.status is None:
                    at = out.handed_us or now_us
                    plan.set_chan(c, ChannelState.SENT, out.status, 0, None, at)
                    plan.record_status(o, c, out.status, 0, None, at)
                else:
                    plan.set_state(c, ChannelState.SENT)
            if c.state == ChannelState.SENT:
                plan.timer_release[o.id] = (TimerKind.ATTEMPT, deadline)
            else:  # a final report overtook the connector's answer
                _after_final(plan, o, c)
                if o.id not in plan.timer_release:
                    plan.timer_delete.add(o.id)
        elif out.outcome == Outcome.RETRY:
            plan.set_chan(c, ChannelState.PENDING, None, None, None, None)
            plan.timer_release[o.id] = (TimerKind.SEND, out.retry_at_us or now_us)
        elif out.outcome == Outcome.UNKNOWN:
            plan.set_state(c, ChannelState.UNKNOWN)
            plan.timer_release[o.id] = (TimerKind.ATTEMPT, deadline)
        else:
            err = out.err if out.err is not None else 1
            status = "REJECTD" if err in (3, 5, 7, 8, 9) else "FAILED"
            error = out.error or ERR_TEXT.get(err)
            plan.set_chan(c, ChannelState.FAILED, status, err, error, now_us)
            plan.record_status(o, c, status, err, error, now_us)
            _advance(plan, o, c)
            if o.id not in plan.timer_release:
                plan.timer_delete.add(o.id)
    await plan.flush(tx)
    return plan.changes, lost


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
    plan = _Plan(now_us)
    for rep in sorted(reports, key=lambda r: r.at_us):
        c = chans.get(rep.message_id)
        o = omnis.get(c.omnimessage_id) if c else None
        if c is None or o is None:
            continue
        if rep.status == c.status:
            continue  # the same status twice: one report only
        new_state = state_after_report(c.state, rep.status)
        if new_state is None:
            continue
        plan.set_chan(
            c,
            new_state,
            rep.status,
            rep.err,
            rep.error,
            rep.at_us,
            parts_count=rep.parts_count,
            part_price=rep.part_price,
        )
        plan.record_status(
            o, c, rep.status, rep.err, rep.error, rep.at_us, rep.parts_count, rep.part_price
        )
        _after_final(plan, o, c)
    await plan.flush(tx)
    return plan.changes


def group_by_token(claims: Sequence[Claim]) -> dict[int, list[Claim]]:
    out: dict[int, list[Claim]] = defaultdict(list)
    for c in claims:
        out[c.lease_token].append(c)
    return out


async def recover_expired(
    tx: Tx, owner: str, lease_token: int, now_us: int, lease_until_us: int, limit: int = 10_000
) -> RecoveryResult:
    """Take back timers whose lease ran out.

    A send timer that never fired goes back to pending. An attempt timer still claimed means its
    process died mid-send: the channel message becomes `unknown` and the timer is re-leased to
    this process, which must reconcile it with the connector (never resend blindly).
    """
    rows = await tx.fetch(
        "SELECT id, kind, ref, due_us, priority FROM timers WHERE state = 'claimed'"
        " AND lease_until_us < $1 ORDER BY id LIMIT $2 FOR_UPDATE_SKIP",
        now_us,
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
        plan = _Plan(now_us)
        for r in attempts:
            o = omnis.get(r[2])
            c = at.get((r[2], o.position)) if o else None
            if o is None or c is None:
                continue
            if c.state == ChannelState.SENDING:
                plan.set_state(c, ChannelState.UNKNOWN)
            unknown.append(_job(r[0], lease_token, r[3], o, c))
        await plan.flush(tx)
    return RecoveryResult(len(sends), tuple(unknown))


async def release_owned(tx: Tx, owner: str) -> int:
    """On shutdown: give back send timers claimed but not fired."""
    return await tx.execute(
        "UPDATE timers SET state = 'pending', lease_owner = NULL, lease_token = NULL,"
        " lease_until_us = NULL WHERE id IN (SELECT id FROM timers WHERE state = 'claimed'"
        " AND lease_owner = $1 AND kind = 'send' ORDER BY id FOR_UPDATE_SKIP)",
        owner,
    )


async def extend_leases(tx: Tx, owner: str, lease_until_us: int) -> int:
    """Renew this process's leases, passing over rows another transaction holds.

    Waiting for them instead formed lock convoys under a burst: the extension held the rows it
    had already locked while waiting for the next, so finishers and reports queued behind it for
    seconds (and leases ran out meanwhile). A row skipped here is held either by this process's
    own start transaction, which renews the lease itself (`start_attempts`), or by a transaction
    that ends its attempt; recovery skips locked rows too, so it cannot take one meanwhile."""
    return await tx.execute(
        "UPDATE timers SET lease_until_us = $2 WHERE id IN (SELECT id FROM timers"
        " WHERE state = 'claimed' AND lease_owner = $1 ORDER BY id FOR_UPDATE_SKIP)",
        owner,
        lease_until_us,
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
