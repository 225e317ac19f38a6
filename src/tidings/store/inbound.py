"""Inbound (MO) messages: stored once per provider message id, owned, forwarded via the outbox.

`record` stores what a connector parsed, in one transaction: each message's owner is the
account the request named (the sandbox's replies), else the account that last sent to that
number through that connector, else the connector's `inbound_account`, else none (stored and
logged by the engine). `INSERT ... ON CONFLICT DO NOTHING` on `(connector, event_key)` decides
once whether a message is new, so a replayed webhook changes nothing.

`forward` queues the new ones for their owner's inbound URL in the webhook outbox (the same
rows, signing, SSRF guard and retries as delivery reports), in a second transaction: the
opt-out handling runs between the two. A message left `pending` by a process that died in
between is forwarded by `unforwarded` on the next start.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson

from tidings.core.inbound import InboundMessage, StoredInbound, inbound_body
from tidings.store import outbox
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import InboundView
from tidings.store.tx import Row, Tx

LAST_SENDER = query("inbound_last_sender")
ACCOUNT_BY_NAME = query("inbound_account_by_name")
ACCOUNT_URL = query("inbound_account_url")
INSERT = query("insert_inbound")
FORWARDED = query("inbound_forwarded")
UNFORWARDED = query("inbound_unforwarded")
SET_URL = query("set_inbound_url")
GET_URL = query("get_inbound_url")
PAGE = query("inbound_page")


async def _owner(
    tx: Tx, connector: str, m: InboundMessage, fallback: str | None
) -> tuple[int | None, str | None]:
    if m.account_id is not None:
        rows = await tx.fetch(ACCOUNT_URL, m.account_id)
        if rows:
            return int(rows[0]["id"]), rows[0]["inbound_url"]
    else:
        rows = await tx.fetch(LAST_SENDER, m.sender, connector)
        if rows:
            found = await tx.fetch(ACCOUNT_URL, rows[0]["account_id"])
            if found:
                return int(found[0]["id"]), found[0]["inbound_url"]
    if fallback is not None:
        rows = await tx.fetch(ACCOUNT_BY_NAME, fallback)
        if rows:
            return int(rows[0]["id"]), rows[0]["inbound_url"]
    return None, None


async def _record(
    tx: Tx,
    connector: str,
    messages: Sequence[InboundMessage],
    fallback: str | None,
    now_us: int,
) -> list[StoredInbound]:
    out: list[StoredInbound] = []
    for m in messages:
        account_id, url = await _owner(tx, connector, m, fallback)
        ident = str(uuid.uuid4())
        content = orjson.dumps(m.content).decode() if m.content is not None else None
        rows = await tx.fetch(
            INSERT,
            ident,
            connector,
            m.key,
            account_id,
            m.channel,
            m.sender,
            m.recipient,
            m.text,
            content,
            m.at_us,
            now_us,
            "pending" if account_id is not None else "none",
        )
        if rows:
            out.append(StoredInbound(ident, connector, m, account_id, url or None, now_us))
    return out


async def _forward(tx: Tx, items: Sequence[StoredInbound], now_us: int) -> int:
    queued = 0
    for s in items:
        url = s.inbound_url if s.account_id is not None else None
        if not await tx.fetch(FORWARDED, s.id, "queued" if url else "none", s.opt_out):
            continue  # forwarded already (a catch-up raced the original process)
        if url and s.account_id is not None:
            body = inbound_body(s).decode()
            await tx.execute(outbox.ENQUEUE, s.account_id, s.id, s.id, url, body, now_us)
            queued += 1
    return queued


def _stored(r: Row) -> StoredInbound:
    content = orjson.loads(r["content"]) if r["content"] is not None else None
    m = InboundMessage(
        r["event_key"],
        r["channel"],
        r["sender"],
        r["recipient"],
        r["text"],
        r["at_us"],
        content if isinstance(content, dict) else None,
        r["account_id"],
    )
    return StoredInbound(
        r["id"], r["connector"], m, r["account_id"], r["inbound_url"] or None, r["received_us"]
    )


class Inbound(Port):
    async def record(
        self,
        connector: str,
        messages: Sequence[InboundMessage],
        fallback_account: str | None,
        now_us: int,
    ) -> list[StoredInbound]:
        """Store these messages; the ones that are new, with their owner and inbound URL."""
        return await self._db.transact(
            lambda tx: _record(tx, connector, messages, fallback_account, now_us)
        )

    async def forward(self, items: Sequence[StoredInbound], now_us: int) -> int:
        """Queue each message still pending (with its opt-out mark) for its owner's inbound URL,
        once; how many were queued."""
        if not items:
            return 0
        return await self._db.transact(lambda tx: _forward(tx, items, now_us))

    async def unforwarded(self, before_us: int, limit: int = 500) -> list[StoredInbound]:
        """Messages stored before `before_us` whose forwarding never ran."""

        async def script(tx: Tx) -> list[StoredInbound]:
            return [_stored(r) for r in await tx.fetch(UNFORWARDED, before_us, limit)]

        return await self._db.query(script)

    async def set_url(self, username: str, url: str | None) -> bool:
        """Set (None: clear) an account's inbound URL; False when there is no such account."""
        rows = await self._db.transact(lambda tx: tx.fetch(SET_URL, username, url))
        return bool(rows)

    async def url(self, username: str) -> str | None:
        rows = await self._db.query(lambda tx: tx.fetch(GET_URL, username))
        return rows[0]["inbound_url"] if rows else None

    async def page(
        self, account_id: int, from_us: int, until_us: int, limit: int
    ) -> list[InboundView]:
        """An account's inbound messages received in [from_us, until_us), newest first."""

        async def script(tx: Tx) -> list[InboundView]:
            rows = await tx.fetch(PAGE, account_id, from_us, until_us, limit)
            return [InboundView.from_row(r) for r in rows]

        return await self._db.query(script)
