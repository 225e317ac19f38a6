"""The scheduling lifecycle of waiting messages: list pages, reschedule, pause, resume, and
batch operations (issue 12).

Every request here is decided against the dispatcher's start of an attempt the way a cancel is
(store/messages.py): lock the send timers first (the lock order everywhere: timers, then
omnimessages, then channel messages), then one conditional update of the omnimessages whose
`state IN (...)` list comes from `core/lifecycle.py`. Whichever commits first wins: a start
that came first has left the message `processing` (the request answers 404 / counts nothing);
a request that came first has cleared the timer's lease, so a claim already in a dispatcher's
look-ahead finds its lease gone (`attempts.fenced`) and starts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tidings.core import lifecycle
from tidings.core.lifecycle import Control, allowed_from, timer_state_for
from tidings.core.model import FINAL_OMNI_STATES, OmniState
from tidings.store import events
from tidings.store.messages import write_out_cancelled
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import ChannelView, EventRow, OmniView, StatusChange
from tidings.store.tx import Row, Tx

if TYPE_CHECKING:
    from tidings.store.base import Store

LIST_NEW = query("list_new")
LIST_NEW_FINAL = query("list_new_final")
LIST_NEW_PROCESSING = query("list_new_processing")
LIST_SCHEDULED = query("list_scheduled")
LIST_PAUSED = query("list_paused")
LIST_CHANNELS = query("list_channels")
GET = query("get_omnimessage")
CHANNELS = query("omnimessage_channels")
LOCK_TIMERS = query("lock_timers_of")
RESCHEDULE_TARGET = query("reschedule_target")
RESCHEDULE = query("reschedule_omnimessage")
MOVE_TIMER = query("move_send_timer")
APPEND_LIFECYCLE = query("append_lifecycle")
BATCH_MEMBERS = query("batch_members")
SET_WAITING = query("set_waiting_state")
SET_TIMERS = query("set_send_timers")
CANCEL_WAITING = query("cancel_waiting")
BATCH_COUNTS = query("batch_counts")
LOCK_BATCH_TIMERS = query("lock_batch_timers")
CANCEL_BATCH = query("cancel_batch_waiting")
ADD_FOLLOWUP = query("add_cancel_followup")
NEXT_FOLLOWUP = query("next_cancel_followup")
FOLLOWUP_CHUNK = query("cancel_followup_chunk")
ADVANCE_FOLLOWUP = query("advance_cancel_followup")
DROP_FOLLOWUP = query("drop_cancel_followup")

# A batch cancel of up to WHOLE_UP_TO messages writes out their channels in its own
# transaction, so it is whole when the answer goes; a larger one's follow in transactions of
# FOLLOWUP_CHUNK_SIZE messages after the answer, each a short hold of the writer.
WHOLE_UP_TO = 2_000
FOLLOWUP_CHUNK_SIZE = 1_000

# Bounds of the due-time filter when none is given (every BIGINT due time lies inside).
MIN_US = -(2**62)
MAX_US = 2**62


@dataclass(frozen=True, slots=True)
class ChannelBriefRow:
    message_id: str
    channel: str
    sender: str
    status: str | None


@dataclass(frozen=True, slots=True)
class ListItem:
    id: str
    to: str
    state: str
    priority: int
    time_to_send_us: int | None
    due_us: int
    created_us: int
    batch: str | None
    channels: tuple[ChannelBriefRow, ...]
    moved_by: str | None = None  # "quiet_hours": due_us was held past the requested time


@dataclass(frozen=True, slots=True)
class RescheduleTarget:
    """What a reschedule applies quiet hours with: the recipient, and the message's own quiet
    hours as sent (None: not named, the account's apply; "": none)."""

    to: str
    quiet_hours: str | None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One page: `order` "due" (soonest first; states scheduled or paused) or "new" (newest
    first, any state or none); `after` the (key, id) position of the last item of the previous
    page, exclusive."""

    account_id: int
    order: str
    state: str | None
    after: tuple[int, str] | None
    due_from_us: int | None
    due_until_us: int | None
    to: str | None
    batch: str | None
    limit: int


@dataclass(frozen=True, slots=True)
class Inspected:
    message: OmniView
    history: tuple[EventRow, ...]


@dataclass(frozen=True, slots=True)
class BatchResult:
    changed: int
    changes: list[StatusChange]  # DELETED statuses of the messages cancelled
    earliest_due_us: int | None  # of the messages made pending again (wake the dispatcher)
    following: bool = False  # a batch cancel left channels to write out (`follow_up_cancel`)


@dataclass(frozen=True, slots=True)
class Followup:
    """A batch cancel still being written out, and how far it has come."""

    id: int
    account_id: int
    batch: str
    cancelled_us: int
    after_id: str  # the last message written out ("": none yet)

    @classmethod
    def from_row(cls, r: Row) -> Followup:
        return cls(
            int(r["id"]), int(r["account_id"]), r["batch"], int(r["cancelled_us"]), r["after_id"]
        )


def _item(r: Row, chans: tuple[ChannelBriefRow, ...]) -> ListItem:
    return ListItem(
        r["id"],
        r["to_number"],
        r["state"],
        r["priority"],
        r["time_to_send_us"],
        r["due_us"],
        r["created_us"],
        r["batch"],
        chans,
        r["moved_by"],
    )


async def page(tx: Tx, q: ListQuery) -> list[ListItem]:
    lo = q.due_from_us if q.due_from_us is not None else MIN_US
    hi = q.due_until_us if q.due_until_us is not None else MAX_US
    if q.order == "due":
        key, last = q.after if q.after is not None else (MIN_US, "")
        stmt = LIST_PAUSED if q.state == OmniState.PAUSED else LIST_SCHEDULED
        rows = await tx.fetch(stmt, q.account_id, key, last, lo, hi, q.to, q.batch, q.limit)
    else:
        # "~" sorts after every id (hex UUIDs): the first page starts at the very newest.
        key, last = q.after if q.after is not None else (MAX_US, "~")
        args = (q.account_id, key, last, lo, hi, q.to, q.batch)
        if q.state is None:
            rows = await tx.fetch(LIST_NEW, *args, q.limit)
        elif q.state == OmniState.PROCESSING:
            rows = await tx.fetch(LIST_NEW_PROCESSING, *args, q.limit)
        elif q.state in FINAL_OMNI_STATES:
            rows = await tx.fetch(LIST_NEW_FINAL, *args, q.state, q.limit)
        else:  # waiting states are listed by due time (order "due")
            raise ValueError(f"no newest-first listing by state {q.state!r}")
    chans: dict[str, list[ChannelBriefRow]] = {}
    if rows:
        for c in await tx.fetch(LIST_CHANNELS, [r["id"] for r in rows]):
            chans.setdefault(c["omnimessage_id"], []).append(
                ChannelBriefRow(c["id"], c["channel"], c["sender"], c["status"])
            )
    return [_item(r, tuple(chans.get(r["id"], ()))) for r in rows]


async def inspect(tx: Tx, account_id: int, omni_id: str) -> Inspected | None:
    rows = await tx.fetch(GET, omni_id, account_id)
    if not rows:
        return None
    chans = tuple(ChannelView.from_row(c) for c in await tx.fetch(CHANNELS, omni_id))
    return Inspected(OmniView.from_row(rows[0], chans), tuple(await events.history(tx, omni_id)))


async def reschedule_target(tx: Tx, account_id: int, omni_id: str) -> RescheduleTarget | None:
    rows = await tx.fetch(RESCHEDULE_TARGET, omni_id, account_id)
    return RescheduleTarget(rows[0]["to_number"], rows[0]["quiet_hours"]) if rows else None


async def reschedule(
    tx: Tx,
    account_id: int,
    omni_id: str,
    due_us: int,
    time_to_send_us: int | None,
    moved_by: str | None,
    now_us: int,
) -> str | None:
    """Move a waiting message to `due_us` (`moved_by`: why it is later than requested); its
    state (scheduled or paused), or None when it is not waiting (already sending, final,
    another account's, or no such message)."""
    await tx.fetch(LOCK_TIMERS, [omni_id])
    won = await tx.fetch(
        RESCHEDULE,
        omni_id,
        account_id,
        due_us,
        time_to_send_us,
        now_us,
        allowed_from(Control.RESCHEDULE),
        moved_by,
    )
    if not won:
        return None
    state: str = won[0]["state"]
    await tx.execute(MOVE_TIMER, omni_id, due_us, timer_state_for(state).value)
    await tx.execute(APPEND_LIFECYCLE, omni_id, "rescheduled", due_us, now_us)
    return state


async def _members(tx: Tx, account_id: int, batch: str, action: Control) -> list[Row]:
    return list(await tx.fetch(BATCH_MEMBERS, account_id, batch, allowed_from(action)))


async def _move(
    tx: Tx, ids: Sequence[str], action: Control, now_us: int, event: str
) -> list[tuple[str, int]]:
    """Move these messages by `action` (pause or resume) where its table still allows it; the
    (id, due) of the ones moved. Their timers are locked first, all in one statement in timer id
    order, as the dispatcher does (one statement for the whole set: locking in chunks would not
    follow one global order, and could deadlock with a start transaction)."""
    states, after = lifecycle.CONTROL[action]
    assert after is not None
    if not ids:
        return []
    chunk = sorted(ids)
    await tx.fetch(LOCK_TIMERS, chunk)
    rows = await tx.fetch(SET_WAITING, chunk, after, sorted(states), now_us)
    if rows:
        await tx.execute(SET_TIMERS, [r["id"] for r in rows], timer_state_for(after).value)
        await tx.executemany(
            APPEND_LIFECYCLE, [(r["id"], event, r["due_us"], now_us) for r in rows]
        )
    return [(r["id"], r["due_us"]) for r in rows]


async def _cancel(
    tx: Tx, ids: Sequence[str], allowed: Sequence[str], now_us: int
) -> list[StatusChange]:
    """Cancel these messages where still in one of `allowed`: every channel DELETED, reported
    (event log and webhooks) as a single cancel is."""
    if not ids:
        return []
    chunk = sorted(ids)
    await tx.fetch(LOCK_TIMERS, chunk)  # all at once, in timer id order (see _move)
    won = await tx.fetch(CANCEL_WAITING, chunk, list(allowed), now_us)
    return await write_out_cancelled(tx, won, now_us, now_us)


async def _follow_up(
    tx: Tx, job: Followup, limit: int, now_us: int
) -> tuple[list[StatusChange], bool]:
    """Write out the next `limit` cancelled messages of a batch cancel; (the changes, whether
    the cancel is now written out to its end)."""
    rows = await tx.fetch(FOLLOWUP_CHUNK, job.account_id, job.batch, job.after_id, limit)
    cancelled = [r for r in rows if r["state"] == OmniState.CANCELLED]
    if cancelled:
        await tx.fetch(LOCK_TIMERS, sorted(r["id"] for r in cancelled))
    changes = await write_out_cancelled(tx, cancelled, job.cancelled_us, now_us)
    if len(rows) < limit:
        await tx.execute(DROP_FOLLOWUP, job.id)
        return changes, True
    await tx.execute(ADVANCE_FOLLOWUP, job.id, rows[-1]["id"])
    return changes, False


async def pause_batch(tx: Tx, account_id: int, batch: str, now_us: int) -> BatchResult:
    ids = [r["id"] for r in await _members(tx, account_id, batch, Control.PAUSE)]
    moved = await _move(tx, ids, Control.PAUSE, now_us, "paused")
    return BatchResult(len(moved), [], None)


async def resume_batch(
    tx: Tx, account_id: int, batch: str, now_us: int, skip_missed: bool
) -> BatchResult:
    """Resume the paused messages of a batch: each is scheduled again or, with `skip_missed`
    and its time passed, cancelled (`lifecycle.on_resume`)."""
    resume: list[str] = []
    skip: list[str] = []
    for r in await _members(tx, account_id, batch, Control.RESUME):
        target = lifecycle.on_resume(r["due_us"], now_us, skip_missed)
        (skip if target == OmniState.CANCELLED else resume).append(r["id"])
    moved = await _move(tx, resume, Control.RESUME, now_us, "resumed")
    changes = await _cancel(tx, skip, allowed_from(Control.RESUME), now_us) if skip else []
    n_cancelled = len({c.omnimessage_id for c in changes})
    earliest = min((due for _, due in moved), default=None)
    return BatchResult(len(moved) + n_cancelled, changes, earliest)


async def cancel_batch(
    tx: Tx, account_id: int, batch: str, now_us: int, whole_up_to: int = WHOLE_UP_TO
) -> BatchResult:
    """Cancel every still-waiting message of a batch in one conditional update, the decision
    (from this commit on none of them can start: a start finds it cancelled and drops its
    timer). Up to `whole_up_to` messages, their channels are written out here too; a larger
    batch's are written out after the answer by `follow_up_cancel`, from a row that keeps the
    work until it is done."""
    allowed = allowed_from(Control.CANCEL)
    await tx.fetch(LOCK_BATCH_TIMERS, account_id, batch, allowed)
    changed = await tx.execute(CANCEL_BATCH, account_id, batch, allowed, now_us)
    if not changed:
        return BatchResult(0, [], None)
    (row,) = await tx.fetch(ADD_FOLLOWUP, account_id, batch, now_us)
    if changed > whole_up_to:
        return BatchResult(changed, [], None, following=True)
    # The chunk reads the batch's earlier cancelled messages too (nothing left to write): a
    # batch holding more than `whole_up_to` of those leaves the rest to the follow-up.
    changes, done = await _follow_up(tx, Followup.from_row(row), whole_up_to, now_us)
    return BatchResult(changed, changes, None, following=not done)


async def follow_up_cancel(tx: Tx, now_us: int, limit: int) -> tuple[list[StatusChange], bool]:
    """One chunk of the oldest batch cancel still being written out (passing over one another
    process is writing); (its changes, whether there was one to write)."""
    rows = await tx.fetch(NEXT_FOLLOWUP)
    if not rows:
        return [], False
    changes, _ = await _follow_up(tx, Followup.from_row(rows[0]), limit, now_us)
    return changes, True


async def batch_counts(tx: Tx, account_id: int, batch: str) -> dict[str, int]:
    return {r["state"]: int(r["n"]) for r in await tx.fetch(BATCH_COUNTS, account_id, batch)}


class Schedule(Port):
    _db: Store

    async def page(self, q: ListQuery) -> list[ListItem]:
        return await self._db.query(lambda tx: page(tx, q))

    async def inspect(self, account_id: int, omni_id: str) -> Inspected | None:
        return await self._db.query(lambda tx: inspect(tx, account_id, omni_id))

    async def reschedule_target(self, account_id: int, omni_id: str) -> RescheduleTarget | None:
        return await self._db.query(lambda tx: reschedule_target(tx, account_id, omni_id))

    async def reschedule(
        self,
        account_id: int,
        omni_id: str,
        due_us: int,
        time_to_send_us: int | None,
        moved_by: str | None,
        now_us: int,
    ) -> str | None:
        """See `reschedule`. A message left scheduled wakes the dispatchers of other processes
        for its new due time (`Store.wake_others`), as an insert does."""
        state = await self._db.transact(
            lambda tx: reschedule(
                tx, account_id, omni_id, due_us, time_to_send_us, moved_by, now_us
            )
        )
        if state == OmniState.SCHEDULED:
            await self._db.wake_others(due_us)
        return state

    async def pause_batch(self, account_id: int, batch: str) -> BatchResult:
        now = await self._db.now_us()
        return await self._db.transact(lambda tx: pause_batch(tx, account_id, batch, now))

    async def resume_batch(self, account_id: int, batch: str, skip_missed: bool) -> BatchResult:
        now = await self._db.now_us()
        result = await self._db.transact(
            lambda tx: resume_batch(tx, account_id, batch, now, skip_missed)
        )
        if result.earliest_due_us is not None:
            await self._db.wake_others(result.earliest_due_us)
        return result

    async def cancel_batch(
        self, account_id: int, batch: str, whole_up_to: int = WHOLE_UP_TO
    ) -> BatchResult:
        now = await self._db.now_us()
        return await self._db.transact(
            lambda tx: cancel_batch(tx, account_id, batch, now, whole_up_to)
        )

    async def follow_up_cancel(
        self, limit: int = FOLLOWUP_CHUNK_SIZE
    ) -> tuple[list[StatusChange], bool]:
        """See `follow_up_cancel`."""
        now = await self._db.now_us()
        return await self._db.transact(lambda tx: follow_up_cancel(tx, now, limit))

    async def batch_counts(self, account_id: int, batch: str) -> dict[str, int]:
        return await self._db.query(lambda tx: batch_counts(tx, account_id, batch))
