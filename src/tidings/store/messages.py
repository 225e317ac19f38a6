"""Omnimessages as the API sees them: insert, read, cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tidings.core.lifecycle import Control, allowed_from
from tidings.store import accounts, events, idempotency
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import (
    CancelResult,
    ChannelView,
    KeyAnswer,
    NewOmnimessage,
    OmniView,
    StatusChange,
)
from tidings.store.tx import Tx

if TYPE_CHECKING:
    from tidings.store.base import Store

INSERT_OMNI = query("insert_omnimessage")
INSERT_CHANNEL = query("insert_channel_message")
INSERT_TIMER = query("insert_send_timer")
GET = query("get_omnimessage")
CHANNELS = query("omnimessage_channels")
LOCK_TIMERS = query("lock_timers_of")
CANCEL = query("cancel_omnimessage")
STATE = query("omnimessage_state")
CANCEL_CHANNELS = query("cancel_channels")
DROP_TIMER = query("drop_timer")


async def insert(tx: Tx, items: Sequence[NewOmnimessage]) -> None:
    """Store omnimessages, their channel messages and their send timers, all or nothing."""
    await tx.executemany(
        INSERT_OMNI,
        [
            (
                o.id,
                o.account_id,
                o.to,
                o.priority,
                o.time_to_send_us,
                o.due_us,
                o.dlr_url,
                o.text_store,
                o.created_us,
                o.moved_by,
                o.batch,
                o.quiet_hours,
                o.purpose,
            )
            for o in items
        ],
    )
    await tx.executemany(
        INSERT_CHANNEL,
        [
            (c.id, o.id, i, c.channel, c.sender, c.validity_s, c.content)
            for o in items
            for i, c in enumerate(o.channels)
        ],
    )
    await tx.executemany(INSERT_TIMER, [(o.id, o.due_us, o.priority) for o in items])


async def insert_checked(
    tx: Tx,
    items: Sequence[NewOmnimessage],
    expect: Mapping[int, int] | None,
    answers: Sequence[KeyAnswer] = (),
) -> set[int]:
    """`insert`, leaving out the items (and Idempotency-Key answers) of accounts whose version
    is no longer as expected; the ids of those accounts. The answers are recorded in the same
    transaction (`KeyLost` rolls it all back)."""
    stale: set[int] = set()
    kept = items
    if expect:
        current = await accounts.versions(tx, list(expect))
        stale = {a for a, v in expect.items() if current.get(a) != v}
        if stale:
            kept = [o for o in items if o.account_id not in stale]
            answers = [a for a in answers if a.account_id not in stale]
    await insert(tx, kept)
    await idempotency.finish_in(tx, answers)
    return stale


async def get(tx: Tx, account_id: int, omni_id: str) -> OmniView | None:
    rows = await tx.fetch(GET, omni_id, account_id)
    if not rows:
        return None
    chans = await tx.fetch(CHANNELS, omni_id)
    return OmniView.from_row(rows[0], tuple(ChannelView.from_row(c) for c in chans))


async def _cancel_many(
    tx: Tx, requests: Sequence[tuple[int, str]], now_us: int
) -> list[tuple[CancelResult, list[StatusChange]]]:
    # Lock the timers before the messages, all at once in id order, as the dispatcher does
    # (no deadlock with a firing batch).
    await tx.fetch(LOCK_TIMERS, sorted({omni_id for _, omni_id in requests}))
    results = [
        await _cancel_one(tx, account_id, omni_id, now_us) for account_id, omni_id in requests
    ]
    # The whole group's statuses in one append (and one webhook enqueue), not one per cancel.
    await events.record(tx, [c for _, changes in results for c in changes], now_us)
    return results


async def _cancel_one(
    tx: Tx, account_id: int, omni_id: str, now_us: int
) -> tuple[CancelResult, list[StatusChange]]:
    """Cancel while still scheduled: one conditional update decides cancel against send."""
    won = await tx.fetch(CANCEL, omni_id, account_id, now_us, allowed_from(Control.CANCEL))
    if not won:
        rows = await tx.fetch(STATE, omni_id, account_id)
        if rows and rows[0]["state"] == "cancelled":
            return CancelResult.ALREADY_CANCELLED, []
        return CancelResult.NOT_FOUND, []
    to, dlr_url = won[0]["to_number"], won[0]["dlr_url"]
    chans = await tx.fetch(CANCEL_CHANNELS, omni_id, now_us)
    await tx.execute(DROP_TIMER, omni_id)
    changes = [
        StatusChange(
            omni_id,
            c["id"],
            account_id,
            to,
            c["channel"],
            c["sender"],
            "DELETED",
            None,
            None,
            now_us,
            dlr_url,
        )
        for c in chans
    ]
    return CancelResult.CANCELLED, changes


class Messages(Port):
    _db: Store

    async def insert(
        self,
        items: Sequence[NewOmnimessage],
        expect: Mapping[int, int] | None = None,
        answers: Sequence[KeyAnswer] = (),
    ) -> set[int]:
        """Store omnimessages in one transaction. `expect` maps account ids to the version each
        account must still have (web/auth.py's cached credentials): the items of an account that
        changed or is gone are left out, and such accounts' ids are returned. `answers`: the
        Idempotency-Key answers of the requests that sent the items, recorded in the same
        transaction (store/idempotency.py; those of a stale account are left out too). (The
        backend runs it: PostgreSQL also wakes the other processes' schedulers in the same
        transaction.)"""
        return await self._db.insert_omnimessages(items, expect, answers)

    async def get(self, account_id: int, omni_id: str) -> OmniView | None:
        return await self._db.query(lambda tx: get(tx, account_id, omni_id))

    async def cancel(
        self, account_id: int, omni_id: str
    ) -> tuple[CancelResult, list[StatusChange]]:
        (result,) = await self.cancel_many([(account_id, omni_id)])
        return result

    async def cancel_many(
        self, requests: Sequence[tuple[int, str]]
    ) -> list[tuple[CancelResult, list[StatusChange]]]:
        """Several cancels, (account id, omnimessage id) each, in one transaction."""
        now = await self._db.now_us()
        return await self._db.transact(lambda tx: _cancel_many(tx, requests, now))
