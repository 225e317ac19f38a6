"""Timers: the dispatcher's claims and leases, and what is due next.

Claiming is one statement that each backend writes its own way (sql/sqlite.sql,
sql/postgresql.sql: `claim_due`); the adapter runs it (`Store.claim_due`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import Claim
from tidings.store.tx import Tx

if TYPE_CHECKING:
    from tidings.store.base import Store

RELEASE_OWNED = query("release_owned")
EXTEND = query("extend_leases")
NEXT_DUE = query("next_due")
PENDING = query("pending_count")


async def next_due_us(tx: Tx) -> int | None:
    rows = await tx.fetch(NEXT_DUE)
    return rows[0]["due_us"] if rows else None


async def _pending(tx: Tx) -> int:
    rows = await tx.fetch(PENDING)
    return int(rows[0]["n"])


class Timers(Port):
    _db: Store

    async def claim_due(
        self, owner: str, lease_token: int, horizon_us: int, limit: int, lease_until_us: int
    ) -> list[Claim]:
        """Lease up to `limit` pending timers due by `horizon_us`: high priority first, then by
        due time."""
        return await self._db.claim_due(owner, lease_token, horizon_us, limit, lease_until_us)

    async def release_owned(self, owner: str) -> int:
        """On shutdown: give back send timers claimed but not fired."""
        return await self._db.transact(lambda tx: tx.execute(RELEASE_OWNED, owner))

    async def extend_leases(
        self, owner: str, lease_until_us: int, tokens: Sequence[int], renew_before_us: int
    ) -> int:
        """Renew, until `lease_until_us`, this process's leases taken under `tokens` that run
        out before `renew_before_us`, passing over rows another transaction holds.

        A lease taken or renewed since the previous pass is left as it is: renewing every lease
        at every pass rewrote each attempt timer of a burst (178 000 row updates, 4.4 s of
        PostgreSQL's time during a 100 000 burst), most of them done seconds later anyway.

        Only the tokens of work the process still has in hand: a claim it lost track of (a start
        transaction or a claim whose answer never arrived, the database gone meanwhile) must run
        out and be recovered, not be renewed for ever by the process that forgot it.

        Waiting for locked rows instead formed lock convoys under a burst: the extension held the
        rows it had already locked while waiting for the next, so finishers and reports queued
        behind it for seconds (and leases ran out meanwhile). A row skipped here is held either
        by this process's own start transaction, which renews the lease itself
        (`Attempts.start`), or by a transaction that ends its attempt; recovery skips locked rows
        too, so it cannot take one meanwhile."""
        return await self._db.transact(
            lambda tx: tx.execute(EXTEND, owner, lease_until_us, list(tokens), renew_before_us)
        )

    async def next_due_us(self) -> int | None:
        """The earliest pending due time (on the dispatcher's own reader where there is one)."""
        return await self._db.dispatch_query(next_due_us)

    async def pending_count(self) -> int:
        """Timers waiting (scheduled sends and running attempts' deadlines)."""
        return await self._db.query(_pending)
