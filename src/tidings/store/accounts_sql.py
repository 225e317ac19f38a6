"""Account rows.

Every change of a row bumps its `version`, and a password change or a removal ends the account's
console sessions in the same transaction: a process that cached the row (api/auth.py) sees the
change on its next check, and a signed-in browser on its next page.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.store.records import Account
from tidings.store.tx import Row, Tx

_COLS = "id, username, password_hash, default_sender, dlr_url, signing_secret, created_us, version"


def _account(r: Row) -> Account:
    return Account(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])


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


async def account_versions(tx: Tx, account_ids: Sequence[int]) -> dict[int, int]:
    """The current version of each account that still exists."""
    if len(account_ids) == 1:  # the usual case, on the request path: a plain key lookup
        rows = await tx.fetch("SELECT id, version FROM accounts WHERE id = $1", account_ids[0])
    else:
        rows = await tx.fetch(
            "SELECT id, version FROM accounts WHERE id IN_BIGINT($1)", list(account_ids)
        )
    return {int(r[0]): int(r[1]) for r in rows}


async def list_accounts(tx: Tx) -> list[Account]:
    return [_account(r) for r in await tx.fetch(f"SELECT {_COLS} FROM accounts ORDER BY id")]


async def remove_account(tx: Tx, username: str) -> bool:
    rows = await tx.fetch("DELETE FROM accounts WHERE username = $1 RETURNING id", username)
    if not rows:
        return False
    await tx.execute("DELETE FROM console_sessions WHERE account_id = $1", rows[0][0])
    return True


async def update_account(
    tx: Tx,
    username: str,
    *,
    password_hash: str | None = None,
    default_sender: str | None = None,
    dlr_url: str | None = None,
    clear_dlr_url: bool = False,
) -> Account | None:
    """Change the given fields; None leaves a field as it is. A new password ends every console
    session of the account."""
    rows = await tx.fetch(
        "UPDATE accounts SET password_hash = COALESCE($2, password_hash),"
        " default_sender = COALESCE($3, default_sender),"
        " dlr_url = CASE WHEN $5 THEN NULL ELSE COALESCE($4, dlr_url) END,"
        " version = version + 1"
        f" WHERE username = $1 RETURNING {_COLS}",
        username,
        password_hash,
        default_sender,
        dlr_url,
        clear_dlr_url,
    )
    if not rows:
        return None
    account = _account(rows[0])
    if password_hash is not None:
        await tx.execute("DELETE FROM console_sessions WHERE account_id = $1", account.id)
    return account
