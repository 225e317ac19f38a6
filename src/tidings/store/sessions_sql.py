"""Console sessions: one row per signed-in browser, found by the SHA-256 of its cookie's token.

Deleting a row ends that session everywhere at once (sign-out); a password change or account
removal deletes all of an account's rows (accounts_sql).
"""

from __future__ import annotations

from tidings.store.accounts_sql import _COLS, _account
from tidings.store.records import Account
from tidings.store.tx import Tx

_ACCOUNT_COLS = ", ".join(f"a.{c.strip()}" for c in _COLS.split(","))


async def create_session(
    tx: Tx, token_hash: str, account_id: int, now_us: int, expires_us: int
) -> None:
    await tx.execute("DELETE FROM console_sessions WHERE expires_us <= $1", now_us)
    await tx.execute(
        "INSERT INTO console_sessions (token_hash, account_id, created_us, expires_us)"
        " VALUES ($1, $2, $3, $4)",
        token_hash,
        account_id,
        now_us,
        expires_us,
    )


async def session_account(tx: Tx, token_hash: str, now_us: int) -> Account | None:
    """The account signed in with this session, if the session still exists and has not expired."""
    rows = await tx.fetch(
        f"SELECT {_ACCOUNT_COLS} FROM console_sessions s JOIN accounts a ON a.id = s.account_id"
        " WHERE s.token_hash = $1 AND s.expires_us > $2",
        token_hash,
        now_us,
    )
    return _account(rows[0]) if rows else None


async def end_session(tx: Tx, token_hash: str) -> bool:
    return await tx.execute("DELETE FROM console_sessions WHERE token_hash = $1", token_hash) > 0
