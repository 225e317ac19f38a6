"""Account rows."""

from __future__ import annotations

from tidings.store.records import Account
from tidings.store.tx import Row, Tx

_COLS = "id, username, password_hash, default_sender, dlr_url, signing_secret, created_us"


def _account(r: Row) -> Account:
    return Account(r[0], r[1], r[2], r[3], r[4], r[5], r[6])


async def create_account(
    tx: Tx, username: str, password_hash: str, default_sender: str, signing_secret: str, now_us: int
) -> Account:
    rows = await tx.fetch(
        "INSERT INTO accounts (username, password_hash, default_sender, signing_secret, created_us)"
        f" VALUES ($1, $2, $3, $4, $5) RETURNING {_COLS}",
        username,
        password_hash,
        default_sender,
        signing_secret,
        now_us,
    )
    return _account(rows[0])


async def get_account(tx: Tx, username: str) -> Account | None:
    rows = await tx.fetch(f"SELECT {_COLS} FROM accounts WHERE username = $1", username)
    return _account(rows[0]) if rows else None


async def list_accounts(tx: Tx) -> list[Account]:
    return [_account(r) for r in await tx.fetch(f"SELECT {_COLS} FROM accounts ORDER BY id")]


async def remove_account(tx: Tx, username: str) -> bool:
    return await tx.execute("DELETE FROM accounts WHERE username = $1", username) > 0


async def update_account(
    tx: Tx,
    username: str,
    *,
    password_hash: str | None = None,
    default_sender: str | None = None,
    dlr_url: str | None = None,
    clear_dlr_url: bool = False,
) -> Account | None:
    """Change the given fields; None leaves a field as it is."""
    changed = await tx.execute(
        "UPDATE accounts SET password_hash = COALESCE($2, password_hash),"
        " default_sender = COALESCE($3, default_sender),"
        " dlr_url = CASE WHEN $5 THEN NULL ELSE COALESCE($4, dlr_url) END"
        " WHERE username = $1",
        username,
        password_hash,
        default_sender,
        dlr_url,
        clear_dlr_url,
    )
    return await get_account(tx, username) if changed else None
