"""The blacklist: numbers an account never sends to (Messente's Phonebook blacklist).

Listing and unlisting are each one conditional statement (insert unless listed, delete if
listed), so of two concurrent requests for the same number exactly one changes it: the opt-out
rules send their confirmation only for the one that did. Every change (and every keyword that
changed nothing) is appended to `blacklist_events` in the same transaction.

The list is read at fire time by the start transaction itself (`load_omnis_to_fire`,
store/attempts.py), not through this port.
"""

from __future__ import annotations

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import BlacklistEntry, BlacklistEvent
from tidings.store.tx import Tx

ADD = query("blacklist_add")
REMOVE = query("blacklist_remove")
HAS = query("blacklist_has")
LIST = query("blacklist_list")
APPEND_EVENT = query("blacklist_append_event")
HISTORY = query("blacklist_history")


async def _change(
    tx: Tx,
    add: bool,
    account_id: int,
    phone: str,
    source: str,
    inbound_id: str | None,
    now_us: int,
    record_unchanged: bool,
) -> bool:
    if add:
        rows = await tx.fetch(ADD, account_id, phone, source, inbound_id, now_us)
    else:
        rows = await tx.fetch(REMOVE, account_id, phone)
    changed = bool(rows)
    if changed or record_unchanged:
        action = ("added" if add else "removed") if changed else "unchanged"
        await tx.execute(APPEND_EVENT, account_id, phone, action, source, inbound_id, now_us)
    return changed


class Blacklist(Port):
    async def add(
        self,
        account_id: int,
        phone: str,
        source: str,
        now_us: int,
        inbound_id: str | None = None,
        record_unchanged: bool = False,
    ) -> bool:
        """List `phone` (E.164) for the account; False when it already was (nothing changed;
        with `record_unchanged` that is still a history row)."""
        return await self._db.transact(
            lambda tx: _change(
                tx, True, account_id, phone, source, inbound_id, now_us, record_unchanged
            )
        )

    async def remove(
        self,
        account_id: int,
        phone: str,
        source: str,
        now_us: int,
        inbound_id: str | None = None,
        record_unchanged: bool = False,
    ) -> bool:
        """Unlist `phone`; False when it was not listed."""
        return await self._db.transact(
            lambda tx: _change(
                tx, False, account_id, phone, source, inbound_id, now_us, record_unchanged
            )
        )

    async def has(self, account_id: int, phone: str) -> bool:
        async def script(tx: Tx) -> bool:
            return bool(await tx.fetch(HAS, account_id, phone))

        return await self._db.query(script)

    async def entries(self, account_id: int) -> list[BlacklistEntry]:
        """Every number the account lists, oldest first."""

        async def script(tx: Tx) -> list[BlacklistEntry]:
            return [BlacklistEntry.from_row(r) for r in await tx.fetch(LIST, account_id)]

        return await self._db.query(script)

    async def history(self, account_id: int, phone: str) -> list[BlacklistEvent]:
        """Every listing and removal of one number, oldest first."""

        async def script(tx: Tx) -> list[BlacklistEvent]:
            rows = await tx.fetch(HISTORY, account_id, phone)
            return [BlacklistEvent.from_row(r) for r in rows]

        return await self._db.query(script)
