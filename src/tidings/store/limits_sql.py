"""Shared limiter state: sign-in failure back-off rows and per-account token buckets.

The back-off policy lives with its caller (api/guard.py); here are only the atomic
read-modify-write of its rows and their pruning. The token bucket is one conditional UPDATE that
refills the shared bucket for the time elapsed and takes up to `want` tokens from it, so processes
reserving at the same time never grant more than the bucket holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from tidings.store.records import ThrottleRow, TokenGrant
from tidings.store.tx import Tx

_THROTTLE_COLS = "key, failures, blocked_until_us, expires_us"


def _throttle(r: Sequence[object]) -> ThrottleRow:
    return ThrottleRow(str(r[0]), int(str(r[1])), int(str(r[2])), int(str(r[3])))


async def throttle_rows(tx: Tx, keys: Sequence[str]) -> dict[str, ThrottleRow]:
    rows = await tx.fetch(
        f"SELECT {_THROTTLE_COLS} FROM auth_throttle WHERE key IN_TEXT($1)", list(keys)
    )
    return {str(r[0]): _throttle(r) for r in rows}


async def throttle_update(
    tx: Tx,
    keys: Sequence[str],
    decide: Callable[[Mapping[str, ThrottleRow]], Sequence[ThrottleRow]],
) -> list[ThrottleRow]:
    """Lock the rows of `keys`, let `decide` compute their new state from the current one, and
    store what it returns. Keys without a row get an expired one first (failures 0, expires 0),
    so that concurrent first updates of a key wait for each other instead of overwriting."""
    await tx.executemany(
        "INSERT INTO auth_throttle (key, failures, blocked_until_us, expires_us)"
        " VALUES ($1, 0, 0, 0) ON CONFLICT (key) DO NOTHING",
        [(k,) for k in sorted(set(keys))],
    )
    rows = await tx.fetch(
        f"SELECT {_THROTTLE_COLS} FROM auth_throttle WHERE key IN_TEXT($1) ORDER BY key FOR_UPDATE",
        list(keys),
    )
    new = list(decide({str(r[0]): _throttle(r) for r in rows}))
    await tx.executemany(
        "INSERT INTO auth_throttle (key, failures, blocked_until_us, expires_us)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,"
        " blocked_until_us = excluded.blocked_until_us, expires_us = excluded.expires_us",
        [(r.key, r.failures, r.blocked_until_us, r.expires_us) for r in new],
    )
    return new


async def throttle_prune(tx: Tx, now_us: int) -> int:
    return await tx.execute("DELETE FROM auth_throttle WHERE expires_us < $1", now_us)


# Refilled content of the bucket, capped at the burst; then the grant: `want`, or all that is
# there when that is less but at least one token, else nothing. SET expressions all read the old
# row, so the sub-expressions are repeated rather than chained.
_REFILLED = (
    "(tokens + CASE WHEN $2 > updated_us"
    " THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END)"
)
_AVAIL = f"(CASE WHEN {_REFILLED} > $4 THEN CAST($4 AS DOUBLE PRECISION) ELSE {_REFILLED} END)"
_GRANT = (
    f"(CASE WHEN {_AVAIL} >= $5 THEN CAST($5 AS DOUBLE PRECISION)"
    f" WHEN {_AVAIL} >= 1 THEN {_AVAIL} ELSE 0 END)"
)
_TAKE = (
    f"UPDATE rate_buckets SET granted = {_GRANT}, tokens = {_AVAIL} - {_GRANT},"
    " updated_us = CASE WHEN $2 > updated_us THEN $2 ELSE updated_us END"
    " WHERE account_id = $1 RETURNING granted, tokens"
)


async def take_tokens(
    tx: Tx, account_id: int, want: float, rate_per_s: float, burst: float, now_us: int
) -> TokenGrant:
    """Take up to `want` tokens from the account's shared bucket (created full)."""
    rows = await tx.fetch(_TAKE, account_id, now_us, rate_per_s, burst, want)
    if not rows:
        await tx.execute(
            "INSERT INTO rate_buckets (account_id, tokens, updated_us, granted)"
            " VALUES ($1, CAST($2 AS DOUBLE PRECISION), $3, 0) ON CONFLICT (account_id) DO NOTHING",
            account_id,
            burst,
            now_us,
        )
        rows = await tx.fetch(_TAKE, account_id, now_us, rate_per_s, burst, want)
    return TokenGrant(float(rows[0][0]), float(rows[0][1]))
