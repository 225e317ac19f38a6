"""Accounts.

Every change of a row bumps its `version`, and a password change or a removal ends the account's
console sessions in the same transaction: a process that cached the row (web/auth.py) sees the
change on its next check, and a signed-in browser on its next page.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import Account
from tidings.store.tx import Tx

CREATE = query("create_account")
GET = query("get_account")
VERSION = query("account_version")
VERSIONS = query("account_versions")
LIST = query("list_accounts")
REMOVE = query("remove_account")
UPDATE = query("update_account")
END_SESSIONS = query("end_account_sessions")


async def versions(tx: Tx, account_ids: Sequence[int]) -> dict[int, int]:
    """The current version of each account that still exists."""
    if len(account_ids) == 1:  # the usual case, on the request path: a plain key lookup
        rows = await tx.fetch(VERSION, account_ids[0])
    else:
        rows = await tx.fetch(VERSIONS, list(account_ids))
    return {int(r["id"]): int(r["version"]) for r in rows}


async def _remove(tx: Tx, username: str) -> bool:
    rows = await tx.fetch(REMOVE, username)
    if not rows:
        return False
    await tx.execute(END_SESSIONS, rows[0]["id"])
    return True


async def _update(
    tx: Tx,
    username: str,
    password_hash: str | None,
    default_sender: str | None,
    dlr_url: str | None,
    clear_dlr_url: bool,
    quiet_hours: str | None,
    clear_quiet_hours: bool,
) -> Account | None:
    rows = await tx.fetch(
        UPDATE,
        username,
        password_hash,
        default_sender,
        dlr_url,
        clear_dlr_url,
        quiet_hours,
        clear_quiet_hours,
    )
    if not rows:
        return None
    account = Account.from_row(rows[0])
    if password_hash is not None:
        await tx.execute(END_SESSIONS, account.id)
    return account


class Accounts(Port):
    async def create(
        self, username: str, password_hash: str, default_sender: str, signing_secret: str
    ) -> Account:
        now = await self._db.now_us()

        async def script(tx: Tx) -> Account:
            rows = await tx.fetch(
                CREATE, username, password_hash, default_sender, signing_secret, now
            )
            return Account.from_row(rows[0])

        return await self._db.transact(script)

    async def get(self, username: str) -> Account | None:
        async def script(tx: Tx) -> Account | None:
            rows = await tx.fetch(GET, username)
            return Account.from_row(rows[0]) if rows else None

        return await self._db.query(script)

    async def versions(self, account_ids: Sequence[int]) -> dict[int, int]:
        """The current version of each of these accounts that still exists."""
        return await self._db.query(lambda tx: versions(tx, account_ids))

    async def all(self) -> list[Account]:
        async def script(tx: Tx) -> list[Account]:
            return [Account.from_row(r) for r in await tx.fetch(LIST)]

        return await self._db.query(script)

    async def remove(self, username: str) -> bool:
        return await self._db.transact(lambda tx: _remove(tx, username))

    async def update(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        default_sender: str | None = None,
        dlr_url: str | None = None,
        clear_dlr_url: bool = False,
        quiet_hours: str | None = None,
        clear_quiet_hours: bool = False,
    ) -> Account | None:
        """Change the given fields; None leaves a field as it is. A new password ends every
        console session of the account."""
        return await self._db.transact(
            lambda tx: _update(
                tx,
                username,
                password_hash,
                default_sender,
                dlr_url,
                clear_dlr_url,
                quiet_hours,
                clear_quiet_hours,
            )
        )
