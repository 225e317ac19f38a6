"""Accounts.

Every change of a row bumps its `version`, and a password change or a removal ends the account's
console sessions in the same transaction: a process that cached the row (web/auth.py) sees the
change on its next check, and a signed-in browser on its next page.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.opt_out import OptOutSettings
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import Account
from tidings.store.tx import Row, Tx

CREATE = query("create_account")
CREATE_FIRST = query("create_first_account")
GET = query("get_account")
GET_BY_ID = query("get_account_by_id")
VERSION = query("account_version")
VERSIONS = query("account_versions")
LIST = query("list_accounts")
REMOVE = query("remove_account")
UPDATE = query("update_account")
END_SESSIONS = query("end_account_sessions")
OPT_OUT = query("account_opt_out")
SET_OPT_OUT = query("set_account_opt_out")
REMOVE_BLACKLIST = query("remove_account_blacklist")


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
    await tx.execute(REMOVE_BLACKLIST, rows[0]["id"])
    return True


def _words(stored: str | None) -> tuple[str, ...]:
    return tuple(w for w in (stored or "").split(",") if w)


def _opt_out(r: Row) -> OptOutSettings:
    return OptOutSettings(
        _words(r["opt_out_words"]),
        _words(r["opt_in_words"]),
        r["opt_out_reply"],
        r["opt_in_reply"],
    )


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

    async def create_first(
        self, username: str, password_hash: str, default_sender: str, signing_secret: str
    ) -> Account | None:
        """Create this account if the database has none yet; None when it has (another
        process starting at the same time may have created it)."""
        now = await self._db.now_us()

        async def script(tx: Tx) -> Account | None:
            rows = await tx.fetch(
                CREATE_FIRST, username, password_hash, default_sender, signing_secret, now
            )
            return Account.from_row(rows[0]) if rows else None

        return await self._db.transact(script)

    async def get(self, username: str) -> Account | None:
        async def script(tx: Tx) -> Account | None:
            rows = await tx.fetch(GET, username)
            return Account.from_row(rows[0]) if rows else None

        return await self._db.query(script)

    async def by_id(self, account_id: int) -> Account | None:
        async def script(tx: Tx) -> Account | None:
            rows = await tx.fetch(GET_BY_ID, account_id)
            return Account.from_row(rows[0]) if rows else None

        return await self._db.query(script)

    async def opt_out(self, account_id: int) -> OptOutSettings:
        """The account's own opt-out keywords and confirmation texts (empty: the defaults)."""

        async def script(tx: Tx) -> OptOutSettings:
            rows = await tx.fetch(OPT_OUT, account_id)
            return _opt_out(rows[0]) if rows else OptOutSettings()

        return await self._db.query(script)

    async def set_opt_out(self, username: str, settings: OptOutSettings) -> bool:
        """Replace the account's opt-out settings (words already normalised, see
        core/opt_out.py); False when there is no such account."""

        async def script(tx: Tx) -> bool:
            rows = await tx.fetch(
                SET_OPT_OUT,
                username,
                ",".join(settings.opt_out_words) or None,
                ",".join(settings.opt_in_words) or None,
                settings.opt_out_reply,
                settings.opt_in_reply,
            )
            return bool(rows)

        return await self._db.transact(script)

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
