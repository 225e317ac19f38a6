"""Provider connectors: callback de-duplication, provider ref -> message id, Telegram chats.

A provider callback event is identified by `(connector, event_key)`; the event key is the
provider's own event id where it has one, else `provider_ref:status`. Recording it is one
`INSERT ... ON CONFLICT DO NOTHING`: the database decides, once, whether an event is new.

An event is matched to our message by the id we sent along with it when the provider echoes it
(WhatsApp's `biz_opaque_callback_data`): after a send that timed out we never learnt the
provider's ref, and only our own id can tie its reports to the message. The ref is then learnt
from the event, so later events that carry only the ref match too.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import ProviderEventKey, ProviderEventResult
from tidings.store.tx import Tx

IDS_FOR_REFS = query("message_ids_for_refs")
OWN_IDS = query("own_message_ids")
LEARN_REF = query("learn_provider_ref")
RECORD_EVENT = query("record_provider_event")
CREATE_LINK = query("create_telegram_link")
REDEEM_LINK = query("redeem_telegram_link")
BIND_CHAT = query("bind_telegram_chat")
CHAT_IDS = query("telegram_chat_ids")
FORGET_CHAT = query("forget_telegram_chat")
PHONE_OF_CHAT = query("telegram_phone_of_chat")


async def _ids_for_refs(tx: Tx, connector: str, refs: Sequence[str]) -> dict[str, str]:
    """Our channel message ids for provider refs this connector returned on send."""
    if not refs:
        return {}
    rows = await tx.fetch(IDS_FOR_REFS, connector, sorted(set(refs)))
    return {r["provider_ref"]: r["id"] for r in rows}


async def _own_ids(tx: Tx, connector: str, ids: Sequence[str]) -> dict[str, str | None]:
    """Of these message ids, the ones this connector was handed, with their provider refs."""
    if not ids:
        return {}
    rows = await tx.fetch(OWN_IDS, connector, sorted(set(ids)))
    return {r["id"]: r["provider_ref"] for r in rows}


async def _record_events(
    tx: Tx, connector: str, events: Sequence[ProviderEventKey], now_us: int
) -> list[ProviderEventResult]:
    ids = await _ids_for_refs(tx, connector, [e.provider_ref for e in events])
    own = await _own_ids(tx, connector, [e.message_id for e in events if e.message_id])
    out: list[ProviderEventResult] = []
    for e in events:
        mid = ids.get(e.provider_ref)
        if e.message_id is not None and e.message_id in own:
            mid = e.message_id
            if own[mid] is None:  # the send's answer was lost: learn the provider's ref
                await tx.execute(LEARN_REF, mid, connector, e.provider_ref)
                own[mid] = e.provider_ref
        if mid is None:
            out.append(ProviderEventResult(e.event_key, None, False))
            continue
        rows = await tx.fetch(RECORD_EVENT, connector, e.event_key, mid, now_us)
        out.append(ProviderEventResult(e.event_key, mid, bool(rows)))
    return out


async def _redeem(tx: Tx, connector: str, token: str, chat_id: int, now_us: int) -> str | None:
    rows = await tx.fetch(REDEEM_LINK, token, connector, now_us)
    if not rows:
        return None
    phone: str = rows[0]["phone"]
    await tx.execute(BIND_CHAT, connector, phone, chat_id, "start_link", now_us)
    return phone


async def _chat_ids(tx: Tx, connector: str, phones: Sequence[str]) -> dict[str, int]:
    rows = await tx.fetch(CHAT_IDS, connector, sorted(set(phones)))
    return {r["phone"]: int(r["chat_id"]) for r in rows}


class Providers(Port):
    async def record_events(
        self, connector: str, events: Sequence[ProviderEventKey], now_us: int
    ) -> list[ProviderEventResult]:
        """Map each event to our message id and record the mapped ones; tell which are new."""
        return await self._db.transact(lambda tx: _record_events(tx, connector, events, now_us))

    async def create_telegram_link(
        self,
        connector: str,
        token: str,
        phone: str,
        account_id: int | None,
        now_us: int,
        expires_us: int,
    ) -> None:
        await self._db.transact(
            lambda tx: tx.execute(
                CREATE_LINK, token, connector, phone, account_id, now_us, expires_us
            )
        )

    async def redeem_telegram_link(
        self, connector: str, token: str, chat_id: int, now_us: int
    ) -> str | None:
        """Use a one-time deep-link token: bind its phone to `chat_id`. The phone, or None."""
        return await self._db.transact(lambda tx: _redeem(tx, connector, token, chat_id, now_us))

    async def bind_telegram_chat(
        self, connector: str, phone: str, chat_id: int, source: str, now_us: int
    ) -> None:
        await self._db.transact(
            lambda tx: tx.execute(BIND_CHAT, connector, phone, chat_id, source, now_us)
        )

    async def telegram_chat_ids(self, connector: str, phones: Sequence[str]) -> dict[str, int]:
        if not phones:
            return {}
        return await self._db.query(lambda tx: _chat_ids(tx, connector, phones))

    async def telegram_phone(self, connector: str, chat_id: int) -> str | None:
        """The phone bound to a chat (the most recent binding), or None."""
        rows = await self._db.query(lambda tx: tx.fetch(PHONE_OF_CHAT, connector, chat_id))
        return str(rows[0]["phone"]) if rows else None

    async def forget_telegram_chat(self, connector: str, chat_id: int) -> int:
        return await self._db.transact(lambda tx: tx.execute(FORGET_CHAT, connector, chat_id))
