"""The sandbox inbox: what the sandbox connector delivered, for the API, the console and recovery."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import SandboxMessage
from tidings.store.tx import Tx

INSERT = query("insert_sandbox_message")
LIST = query("list_sandbox_messages")
HAS = query("sandbox_has")
UNREPORTED = query("sandbox_unreported")


class Sandbox(Port):
    async def insert(self, items: Sequence[SandboxMessage]) -> None:
        rows = [
            (
                m.message_id,
                m.omnimessage_id,
                m.account_id,
                m.channel,
                m.to,
                m.sender,
                m.text,
                m.content,
                m.delivered_us,
            )
            for m in items
        ]
        await self._db.transact(lambda tx: tx.executemany(INSERT, rows))

    async def page(
        self, account_id: int, to: str | None, limit: int = 100, before_us: int | None = None
    ) -> list[SandboxMessage]:
        async def script(tx: Tx) -> list[SandboxMessage]:
            rows = await tx.fetch(LIST, account_id, to, before_us, limit)
            return [SandboxMessage.from_row(r) for r in rows]

        return await self._db.query(script)

    async def has(self, message_ids: Sequence[str]) -> set[str]:
        async def script(tx: Tx) -> set[str]:
            return {r["message_id"] for r in await tx.fetch(HAS, list(message_ids))}

        return await self._db.query(script)

    async def unreported(self, delivered_before_us: int, limit: int = 5000) -> list[str]:
        """Sandbox deliveries whose channel message never got its final report (its process died
        before the report was recorded)."""

        async def script(tx: Tx) -> list[str]:
            rows = await tx.fetch(UNREPORTED, delivered_before_us, limit)
            return [r["message_id"] for r in rows]

        return await self._db.query(script)
