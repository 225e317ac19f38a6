"""Console sessions: one row per signed-in browser, found by the SHA-256 of its cookie's token.

Deleting a row ends that session everywhere at once (sign-out); a password change or account
removal deletes all of an account's rows (accounts.py).
"""

from __future__ import annotations

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import Account
from tidings.store.tx import Tx

PRUNE = query("prune_sessions")
CREATE = query("create_session")
ACCOUNT = query("session_account")
END = query("end_session")


class Sessions(Port):
    async def create(self, token_hash: str, account_id: int, now_us: int, expires_us: int) -> None:
        async def script(tx: Tx) -> None:
            await tx.execute(PRUNE, now_us)
            await tx.execute(CREATE, token_hash, account_id, now_us, expires_us)

        await self._db.transact(script)

    async def account(self, token_hash: str, now_us: int) -> Account | None:
        """The account signed in with this session, if it still exists and has not expired."""

        async def script(tx: Tx) -> Account | None:
            rows = await tx.fetch(ACCOUNT, token_hash, now_us)
            return Account.from_row(rows[0]) if rows else None

        return await self._db.query(script)

    async def end(self, token_hash: str) -> bool:
        async def script(tx: Tx) -> bool:
            return await tx.execute(END, token_hash) > 0

        return await self._db.transact(script)
