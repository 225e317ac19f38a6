"""`Idempotency-Key`s: claim a key before acting, keep the answer for 24 hours.

A request with a key first claims it (`claim`): a pending row with a random token, committed
before the request acts, so a concurrent or repeated request with the same key finds it (on
PostgreSQL, a second claimer of a fresh key waits on the first one's row lock until it commits,
then finds it pending). The holder then records its answer (`finish`), or gives the claim up
(`release`) when the answer is not to be kept (5xx, 401, 429): the next try acts.

The send endpoints record the answer in the transaction that stores the messages (`finish_in`,
called by messages.insert), so there is no moment where the messages are stored and the key
still says pending: a pending key means nothing was stored. A claim left pending by a request
that died is taken over once it is older than the caller's `stale_before`; the holder of a
claim taken over cannot finish it (`KeyLost`, and its transaction rolls back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import KeyAnswer, KeyRow
from tidings.store.tx import Tx

CLAIM = query("idempotency_claim")
GET = query("idempotency_get")
FINISH = query("idempotency_finish")
RELEASE = query("idempotency_release")
PURGE = query("idempotency_purge")


class KeyLost(Exception):
    """The claim on an Idempotency-Key was taken over (it was pending longer than the stale
    limit): this request's writes are rolled back and it must not answer as the key's owner."""


@dataclass(frozen=True, slots=True)
class Claimed:
    token: int


async def finish_in(tx: Tx, answers: Sequence[KeyAnswer]) -> None:
    """Record answers inside the caller's transaction; `KeyLost` (rolling it back) when a
    claim is no longer held."""
    for a in answers:
        changed = await tx.execute(
            FINISH, a.account_id, a.key, a.token, a.status, a.headers, a.body
        )
        if changed != 1:
            raise KeyLost(a.key)


class Idempotency(Port):
    async def claim(
        self,
        account_id: int,
        key: str,
        request_hash: str,
        token: int,
        now_us: int,
        *,
        expired_before: int,
        stale_before: int,
    ) -> Claimed | KeyRow:
        """Claim the key for this request (`Claimed`), or the row that holds it (another
        request's, pending or done; its hash may differ from ours)."""

        async def script(tx: Tx) -> Claimed | KeyRow | None:
            won = await tx.fetch(
                CLAIM, account_id, key, request_hash, token, now_us, expired_before, stale_before
            )
            if won:
                return Claimed(token)
            rows = await tx.fetch(GET, account_id, key)
            return KeyRow.from_row(rows[0]) if rows else None

        while True:
            result = await self._db.transact(script)
            if result is not None:
                return result
            # Released between our insert and our read (SQLite cannot: one writer): try again.

    async def get(self, account_id: int, key: str) -> KeyRow | None:
        async def script(tx: Tx) -> KeyRow | None:
            rows = await tx.fetch(GET, account_id, key)
            return KeyRow.from_row(rows[0]) if rows else None

        return await self._db.query(script)

    async def finish(self, answer: KeyAnswer) -> None:
        """Record the answer of a request that acted in transactions of its own; `KeyLost` when
        the claim was taken over meanwhile."""
        await self._db.transact(lambda tx: finish_in(tx, [answer]))

    async def release(self, account_id: int, key: str, token: int) -> None:
        async def script(tx: Tx) -> None:
            await tx.execute(RELEASE, account_id, key, token)

        await self._db.transact(script)

    async def purge(self, before_us: int) -> int:
        """Forget keys created before `before_us`; how many."""

        async def script(tx: Tx) -> int:
            return await tx.execute(PURGE, before_us)

        return await self._db.transact(script)
