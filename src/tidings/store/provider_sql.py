"""SQL for provider connectors: callback de-duplication, provider ref -> message id, Telegram.

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
from dataclasses import dataclass

from tidings.store.tx import Tx


@dataclass(frozen=True, slots=True)
class ProviderEventKey:
    """One callback event to record: its de-duplication key and the provider's message ref."""

    event_key: str
    provider_ref: str
    message_id: str | None = None  # our id, when the provider echoes it back


@dataclass(frozen=True, slots=True)
class ProviderEventResult:
    event_key: str
    message_id: str | None  # our channel message id; None when the ref is not (yet) known
    new: bool  # False: seen before (a replay or a repeat), nothing to do


async def message_ids_for_refs(tx: Tx, connector: str, refs: Sequence[str]) -> dict[str, str]:
    """Our channel message ids for provider refs this connector returned on send."""
    if not refs:
        return {}
    rows = await tx.fetch(
        "SELECT provider_ref, id FROM channel_messages"
        " WHERE connector = $1 AND provider_ref IN_TEXT($2)",
        connector,
        sorted(set(refs)),
    )
    return {r[0]: r[1] for r in rows}


async def _own_ids(tx: Tx, connector: str, ids: Sequence[str]) -> dict[str, str | None]:
    """Of these message ids, the ones this connector was handed, with their provider refs."""
    if not ids:
        return {}
    rows = await tx.fetch(
        "SELECT id, provider_ref FROM channel_messages WHERE connector = $1 AND id IN_TEXT($2)",
        connector,
        sorted(set(ids)),
    )
    return {r[0]: r[1] for r in rows}


async def record_provider_events(
    tx: Tx, connector: str, events: Sequence[ProviderEventKey], now_us: int
) -> list[ProviderEventResult]:
    """Map each event to our message id and record the mapped ones; tell which are new."""
    ids = await message_ids_for_refs(tx, connector, [e.provider_ref for e in events])
    own = await _own_ids(tx, connector, [e.message_id for e in events if e.message_id])
    out: list[ProviderEventResult] = []
    for e in events:
        mid = ids.get(e.provider_ref)
        if e.message_id is not None and e.message_id in own:
            mid = e.message_id
            if own[mid] is None:  # the send's answer was lost: learn the provider's ref
                await tx.execute(
                    "UPDATE channel_messages SET provider_ref = $3"
                    " WHERE id = $1 AND connector = $2 AND provider_ref IS NULL",
                    mid,
                    connector,
                    e.provider_ref,
                )
                own[mid] = e.provider_ref
        if mid is None:
            out.append(ProviderEventResult(e.event_key, None, False))
            continue
        rows = await tx.fetch(
            "INSERT INTO provider_events (connector, event_key, message_id, received_us)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (connector, event_key) DO NOTHING"
            " RETURNING event_key",
            connector,
            e.event_key,
            mid,
            now_us,
        )
        out.append(ProviderEventResult(e.event_key, mid, bool(rows)))
    return out


async def create_telegram_link(
    tx: Tx,
    connector: str,
    token: str,
    phone: str,
    account_id: int | None,
    now_us: int,
    expires_us: int,
) -> None:
    await tx.execute(
        "INSERT INTO telegram_links (token, connector, phone, account_id, created_us, expires_us)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        token,
        connector,
        phone,
        account_id,
        now_us,
        expires_us,
    )


async def _bind(tx: Tx, connector: str, phone: str, chat_id: int, source: str, now: int) -> None:
    await tx.execute(
        "INSERT INTO telegram_chats (connector, phone, chat_id, source, consent_us)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector, phone) DO UPDATE"
        " SET chat_id = EXCLUDED.chat_id, source = EXCLUDED.source,"
        " consent_us = EXCLUDED.consent_us",
        connector,
        phone,
        chat_id,
        source,
        now,
    )


async def redeem_telegram_link(
    tx: Tx, connector: str, token: str, chat_id: int, now_us: int
) -> str | None:
    """Use a one-time deep-link token: bind its phone to `chat_id`. The phone, or None."""
    rows = await tx.fetch(
        "UPDATE telegram_links SET used_us = $3 WHERE token = $1 AND connector = $2"
        " AND used_us IS NULL AND expires_us > $3 RETURNING phone",
        token,
        connector,
        now_us,
    )
    if not rows:
        return None
    phone: str = rows[0][0]
    await _bind(tx, connector, phone, chat_id, "start_link", now_us)
    return phone


async def bind_telegram_chat(
    tx: Tx, connector: str, phone: str, chat_id: int, source: str, now_us: int
) -> None:
    await _bind(tx, connector, phone, chat_id, source, now_us)


async def telegram_chat_ids(tx: Tx, connector: str, phones: Sequence[str]) -> dict[str, int]:
    if not phones:
        return {}
    rows = await tx.fetch(
        "SELECT phone, chat_id FROM telegram_chats WHERE connector = $1 AND phone IN_TEXT($2)",
        connector,
        sorted(set(phones)),
    )
    return {r[0]: int(r[1]) for r in rows}


async def forget_telegram_chat(tx: Tx, connector: str, chat_id: int) -> int:
    return await tx.execute(
        "DELETE FROM telegram_chats WHERE connector = $1 AND chat_id = $2", connector, chat_id
    )
