"""Shared limiter state: sign-in failure back-off rows and per-account token buckets.

The back-off policy lives with its caller (web/guard.py); here are only the atomic
read-modify-write of its rows and their pruning. The token bucket is one conditional UPDATE that
refills the shared bucket for the time elapsed and takes up to `want` tokens from it, so processes
reserving at the same time never grant more than the bucket holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import ThrottleRow, TokenGrant
from tidings.store.tx import Tx

ROWS = query("throttle_rows")
SEED = query("throttle_seed")
LOCK = query("throttle_lock")
STORE = query("throttle_store")
PRUNE = query("throttle_prune")
TAKE = query("take_tokens")
CREATE_BUCKET = query("create_bucket")


async def _update(
    tx: Tx,
    keys: Sequence[str],
    decide: Callable[[Mapping[str, ThrottleRow]], Sequence[ThrottleRow]],
) -> list[ThrottleRow]:
    await tx.executemany(SEED, [(k,) for k in sorted(set(keys))])
    rows = await tx.fetch(LOCK, list(keys))
    new = list(decide({str(r["key"]): ThrottleRow.from_row(r) for r in rows}))
    await tx.executemany(
        STORE, [(r.key, r.failures, r.blocked_until_us, r.expires_us) for r in new]
    )
    return new


async def _take(
    tx: Tx, account_id: int, want: float, rate_per_s: float, burst: float, now_us: int
) -> TokenGrant:
    rows = await tx.fetch(TAKE, account_id, now_us, rate_per_s, burst, want)
    if not rows:
        await tx.execute(CREATE_BUCKET, account_id, burst, now_us)
        rows = await tx.fetch(TAKE, account_id, now_us, rate_per_s, burst, want)
    return TokenGrant.from_row(rows[0])


class Limits(Port):
    async def throttle_rows(self, keys: Sequence[str]) -> dict[str, ThrottleRow]:
        async def script(tx: Tx) -> dict[str, ThrottleRow]:
            rows = await tx.fetch(ROWS, list(keys))
            return {str(r["key"]): ThrottleRow.from_row(r) for r in rows}

        return await self._db.query(script)

    async def throttle_update(
        self,
        keys: Sequence[str],
        decide: Callable[[Mapping[str, ThrottleRow]], Sequence[ThrottleRow]],
    ) -> list[ThrottleRow]:
        """Atomically replace the rows of `keys` by `decide(current rows)` (a pure function).
        Keys without a row get an expired one first (failures 0, expires 0), so that concurrent
        first updates of a key wait for each other instead of overwriting."""
        return await self._db.transact(lambda tx: _update(tx, keys, decide))

    async def throttle_prune(self, now_us: int) -> int:
        return await self._db.transact(lambda tx: tx.execute(PRUNE, now_us))

    async def take_tokens(
        self, account_id: int, want: float, rate_per_s: float, burst: float, now_us: int
    ) -> TokenGrant:
        """Take up to `want` tokens from the account's shared bucket (created full)."""
        return await self._db.transact(
            lambda tx: _take(tx, account_id, want, rate_per_s, burst, now_us)
        )
