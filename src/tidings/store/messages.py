"""Omnimessages as the API sees them: insert, read, cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tidings.core.lifecycle import Control, allowed_from
from tidings.store import accounts, events, idempotency, outbox
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
from tidings.store.tx import Row, Tx

if TYPE_CHECKING:
    from tidings.store.base import Store

INSERT_OMNI = query("insert_omnimessage")
INSERT_CHANNEL = query("insert_channel_message")
INSERT_TIMER = query("insert_send_timer")
ACCEPT = query("accept_omnimessages")
CANCEL_AT_ONCE = query("cancel_omnimessages")
GET = query("get_omnimessage")
CHANNELS = query("omnimessage_channels")
LOCK_TIMERS = query("lock_timers_of")
OWNERS = query("omnimessage_owners")
CANCEL_WAITING = query("cancel_waiting")
CANCEL_CHANNELS_OF = query("cancel_channels_of")
DROP_TIMERS = query("drop_send_timers")


def _omni_rows(items: Sequence[NewOmnimessage]) -> list[tuple[object, ...]]:
    return [
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
    ]


def _channel_rows(items: Sequence[NewOmnimessage]) -> list[tuple[object, ...]]:
    return [
        (c.id, o.id, i, c.channel, c.sender, c.validity_s, c.content)
        for o in items
        for i, c in enumerate(o.channels)
    ]


async def insert(tx: Tx, items: Sequence[NewOmnimessage]) -> None:
    """Store omnimessages, their channel messages and their send timers, all or nothing."""
    await tx.executemany(INSERT_OMNI, _omni_rows(items))
    await tx.executemany(INSERT_CHANNEL, _channel_rows(items))
    await tx.executemany(INSERT_TIMER, [(o.id, o.due_us, o.priority) for o in items])


def _columns(rows: list[tuple[object, ...]]) -> list[list[object]]:
    """One list per parameter, for a statement that reads arrays through `unnest` (rows: at
    least one; every message has a channel)."""
    return [list(col) for col in zip(*rows, strict=True)]


async def insert_in_one_statement(
    tx: Tx,
    items: Sequence[NewOmnimessage],
    expect: Mapping[int, int] | None,
    notify_channel: str,
) -> set[int]:
    """`insert_checked` without Idempotency-Key answers, as one statement (PostgreSQL: one
    round trip, run outside an explicit transaction). When an expected account version no
    longer holds nothing is stored, and those accounts' ids are returned."""
    pairs = sorted((expect or {}).items())
    rows = await tx.fetch(
        ACCEPT,
        *_columns(_omni_rows(items)),
        *_columns(_channel_rows(items)),
        [a for a, _ in pairs],
        [v for _, v in pairs],
        notify_channel,
        str(min(o.due_us for o in items)),
    )
    return {int(a) for a in rows[0]["stale"]}


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


# A cancel: (account id, omnimessage id, the account version the caller's credential was
# checked at, or None to cancel unchecked).
CancelRequest = tuple[int, str, int | None]


def _stale(requests: Sequence[CancelRequest], current: Mapping[int, int]) -> set[int]:
    """The accounts whose version a request expects but that no longer have it (or are gone)."""
    return {a for a, _, v in requests if v is not None and current.get(a) != v}


async def cancel_many(
    tx: Tx, requests: Sequence[CancelRequest], now_us: int
) -> list[tuple[CancelResult, list[StatusChange]]]:
    """A group of cancels in a fixed number of statements, whatever its size (on PostgreSQL
    each is a round trip: one per cancel made a group of 16 take 50).

    Lock the timers before the messages, all at once in id order, as the dispatcher does (no
    deadlock with a firing batch); then one conditional update of every requested message its
    own account may cancel decides each cancel against send."""
    checked = sorted({a for a, _, v in requests if v is not None})
    stale = _stale(requests, await accounts.versions(tx, checked)) if checked else set()
    ids = sorted({omni_id for a, omni_id, v in requests if v is None or a not in stale})
    await tx.fetch(LOCK_TIMERS, ids)
    # Every writer locks a message's timers before the message, so with them held here the
    # states read now stay as they are until this transaction ends (a message with no timer
    # left is final).
    found = await tx.fetch(OWNERS, ids)
    owners = {r["id"]: r["account_id"] for r in found}
    state = {r["id"]: r["state"] for r in found}
    mine = sorted(
        {
            omni_id
            for account_id, omni_id, v in requests
            if owners.get(omni_id) == account_id and (v is None or account_id not in stale)
        }
    )
    won = await tx.fetch(CANCEL_WAITING, mine, list(allowed_from(Control.CANCEL)), now_us)
    changes = await write_out_cancelled(tx, won, now_us, now_us)
    return _answers(requests, stale, owners, state, {r["id"] for r in won}, changes)


async def cancel_in_one_statement(
    tx: Tx, requests: Sequence[CancelRequest]
) -> list[tuple[CancelResult, list[StatusChange]]]:
    """`cancel_many` as one statement (PostgreSQL: cancel_omnimessages), plus the webhooks'
    insert when a cancelled message has a report URL; inside the caller's transaction. The
    time of the cancel is the database's clock, read by the statement itself."""
    rows = await tx.fetch(
        CANCEL_AT_ONCE,
        [omni_id for _, omni_id, _ in requests],
        [account_id for account_id, _, _ in requests],
        list(allowed_from(Control.CANCEL)),
        [version for _, _, version in requests],
    )
    stale = {r["account_id"] for r in rows if r["row_kind"] == "stale"}
    owners: dict[str, int] = {}
    state: dict[str, str] = {}
    won: dict[str, Row] = {}
    for r in rows:
        if r["row_kind"] == "owner":
            owners[r["id"]], state[r["id"]] = r["account_id"], r["state"]
        elif r["row_kind"] == "won":
            won[r["id"]] = r
    changes = [
        _deleted(won[c["omnimessage_id"]], c, c["now_us"]) for c in rows if c["row_kind"] == "chan"
    ]
    if changes:
        await outbox.enqueue_webhooks(tx, changes, changes[0].at_us)
    return _answers(requests, stale, owners, state, set(won), changes)


def _answers(
    requests: Sequence[CancelRequest],
    stale: set[int],
    owners: Mapping[str, int],
    state: Mapping[str, str],
    won_ids: set[str],
    changes: Sequence[StatusChange],
) -> list[tuple[CancelResult, list[StatusChange]]]:
    """Each request's answer, as if it had been alone: the first request of a message its
    account cancelled gets the cancel and its changes, a repeat "already cancelled"."""
    by_omni: dict[str, list[StatusChange]] = {}
    for c in changes:
        by_omni.setdefault(c.omnimessage_id, []).append(c)
    results: list[tuple[CancelResult, list[StatusChange]]] = []
    answered: set[str] = set()
    for account_id, omni_id, version in requests:
        if version is not None and account_id in stale:
            results.append((CancelResult.ACCOUNT_CHANGED, []))
        elif owners.get(omni_id) != account_id:
            results.append((CancelResult.NOT_FOUND, []))
        elif omni_id in won_ids and omni_id not in answered:
            answered.add(omni_id)
            results.append((CancelResult.CANCELLED, by_omni.get(omni_id, [])))
        elif omni_id in won_ids or state.get(omni_id) == "cancelled":
            results.append((CancelResult.ALREADY_CANCELLED, []))
        else:  # sending or done: as Messente, not found
            results.append((CancelResult.NOT_FOUND, []))
    return results


def _deleted(omni: Row, channel: Row, at_us: int) -> StatusChange:
    """A cancelled message's channel written out: omnimessage row (id, account_id, to_number,
    dlr_url), channel row (id, channel, sender)."""
    return StatusChange(
        omni["id"],
        channel["id"],
        omni["account_id"],
        omni["to_number"],
        channel["channel"],
        channel["sender"],
        "DELETED",
        None,
        None,
        at_us,
        omni["dlr_url"],
    )


async def write_out_cancelled(
    tx: Tx, cancelled: Sequence[Row], at_us: int, now_us: int
) -> list[StatusChange]:
    """What follows a cancel, for these cancelled omnimessages (rows of id, account_id,
    to_number, dlr_url; their timers already locked): each channel not yet cancelled becomes
    DELETED at `at_us`, with its event and webhook, and the send timers go."""
    if not cancelled:
        return []
    by_id = {r["id"]: r for r in cancelled}
    ids = sorted(by_id)
    changes: list[StatusChange] = []
    for c in await tx.fetch(CANCEL_CHANNELS_OF, ids, at_us):
        changes.append(_deleted(by_id[c["omnimessage_id"]], c, at_us))
    await tx.execute(DROP_TIMERS, ids)
    await events.record(tx, changes, now_us)
    return changes


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
        self, account_id: int, omni_id: str, version: int | None = None
    ) -> tuple[CancelResult, list[StatusChange]]:
        (result,) = await self.cancel_many([(account_id, omni_id, version)])
        return result

    async def cancel_many(
        self, requests: Sequence[CancelRequest]
    ) -> list[tuple[CancelResult, list[StatusChange]]]:
        """Several cancels in one transaction, each (account id, omnimessage id, the account
        version its caller was checked at, or None): a request whose account no longer has that
        version is answered ACCOUNT_CHANGED and changes nothing, each other as if alone."""
        return await self._db.cancel_omnimessages(requests)
