"""Omnimessage rows as the API sees them: insert, read, cancel; and the sandbox inbox."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.store import events_sql
from tidings.store.records import (
    CancelResult,
    ChannelView,
    NewOmnimessage,
    OmniView,
    SandboxMessage,
    StatusChange,
)
from tidings.store.tx import Tx

_OMNI_COLS = (
    "id, account_id, to_number, state, priority, time_to_send_us, due_us, dlr_url, text_store,"
    " position, created_us"
)
_CH_COLS = (
    "id, position, channel, sender, validity_s, content, state, status, err, error, status_us,"
    " sent_us, parts_count, part_price"
)


async def insert_omnimessages(tx: Tx, items: Sequence[NewOmnimessage]) -> None:
    """Store omnimessages, their channel messages and their send timers, all or nothing."""
    await tx.executemany(
        "INSERT INTO omnimessages (id, account_id, to_number, state, priority, time_to_send_us,"
        " due_us, dlr_url, text_store, position, created_us, updated_us)"
        " VALUES ($1, $2, $3, 'scheduled', $4, $5, $6, $7, $8, 0, $9, $9)",
        [
            (
                o.id,
                o.account_id,
                o.to,
                o.priority,
                o.time_to_send_us,
                o.due_us,
                o.dlr_url,
                o.text_store,
                o.created_us,
            )
            for o in items
        ],
    )
    await tx.executemany(
        "INSERT INTO channel_messages (id, omnimessage_id, position, channel, sender, validity_s,"
        " content, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
        [
            (c.id, o.id, i, c.channel, c.sender, c.validity_s, c.content)
            for o in items
            for i, c in enumerate(o.channels)
        ],
    )
    await tx.executemany(
        "INSERT INTO timers (kind, ref, due_us, priority, state) VALUES ('send', $1, $2, $3, 'pending')",
        [(o.id, o.due_us, o.priority) for o in items],
    )


async def get_omnimessage(tx: Tx, account_id: int, omni_id: str) -> OmniView | None:
    rows = await tx.fetch(
        f"SELECT {_OMNI_COLS} FROM omnimessages WHERE id = $1 AND account_id = $2",
        omni_id,
        account_id,
    )
    if not rows:
        return None
    o = rows[0]
    chans = await tx.fetch(
        f"SELECT {_CH_COLS} FROM channel_messages WHERE omnimessage_id = $1 ORDER BY position",
        omni_id,
    )
    return OmniView(
        o[0],
        o[1],
        o[2],
        o[3],
        o[4],
        o[5],
        o[6],
        o[7],
        o[8],
        o[9],
        o[10],
        tuple(ChannelView(*c) for c in chans),
    )


async def cancel_omnimessages(
    tx: Tx, requests: Sequence[tuple[int, str]], now_us: int
) -> list[tuple[CancelResult, list[StatusChange]]]:
    """Several cancels in one transaction, (account id, omnimessage id) each."""
    # Lock the timers before the messages, all at once in id order, as the dispatcher does
    # (no deadlock with a firing batch).
    await tx.fetch(
        "SELECT id FROM timers WHERE ref IN_TEXT($1) ORDER BY id FOR_UPDATE",
        sorted({omni_id for _, omni_id in requests}),
    )
    return [await _cancel_one(tx, account_id, omni_id, now_us) for account_id, omni_id in requests]


async def _cancel_one(
    tx: Tx, account_id: int, omni_id: str, now_us: int
) -> tuple[CancelResult, list[StatusChange]]:
    """Cancel while still scheduled: one conditional update decides cancel against send."""
    won = await tx.fetch(
        "UPDATE omnimessages SET state = 'cancelled', updated_us = $3"
        " WHERE id = $1 AND account_id = $2 AND state = 'scheduled' RETURNING to_number, dlr_url",
        omni_id,
        account_id,
        now_us,
    )
    if not won:
        rows = await tx.fetch(
            "SELECT state FROM omnimessages WHERE id = $1 AND account_id = $2", omni_id, account_id
        )
        if rows and rows[0][0] == "cancelled":
            return CancelResult.ALREADY_CANCELLED, []
        return CancelResult.NOT_FOUND, []
    to, dlr_url = won[0][0], won[0][1]
    chans = await tx.fetch(
        "UPDATE channel_messages SET state = 'cancelled', status = 'DELETED', status_us = $2"
        " WHERE omnimessage_id = $1 RETURNING id, channel, sender",
        omni_id,
        now_us,
    )
    await tx.execute("DELETE FROM timers WHERE ref = $1 AND kind IN ('send', 'attempt')", omni_id)
    changes = [
        StatusChange(
            omni_id, c[0], account_id, to, c[1], c[2], "DELETED", None, None, now_us, dlr_url
        )
        for c in chans
    ]
    await events_sql.record(tx, changes, now_us)
    return CancelResult.CANCELLED, changes


async def insert_sandbox_messages(tx: Tx, items: Sequence[SandboxMessage]) -> None:
    await tx.executemany(
        "INSERT INTO sandbox_messages (message_id, omnimessage_id, account_id, channel, to_number,"
        " sender, text, content, delivered_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (message_id) DO UPDATE SET handovers = sandbox_messages.handovers + 1",
        [
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
        ],
    )


async def list_sandbox_messages(
    tx: Tx, account_id: int, to: str | None, limit: int, before_us: int | None
) -> list[SandboxMessage]:
    rows = await tx.fetch(
        "SELECT message_id, omnimessage_id, account_id, channel, to_number, sender, text, content,"
        " delivered_us FROM sandbox_messages WHERE account_id = $1"
        " AND (CAST($2 AS TEXT) IS NULL OR to_number = $2) AND (CAST($3 AS BIGINT) IS NULL OR delivered_us < $3)"
        " ORDER BY delivered_us DESC, message_id LIMIT $4",
        account_id,
        to,
        before_us,
        limit,
    )
    return [SandboxMessage(*r) for r in rows]


async def sandbox_has(tx: Tx, message_ids: Sequence[str]) -> set[str]:
    rows = await tx.fetch(
        "SELECT message_id FROM sandbox_messages WHERE message_id IN_TEXT($1)", list(message_ids)
    )
    return {r[0] for r in rows}


async def sandbox_unreported(tx: Tx, delivered_before_us: int, limit: int) -> list[str]:
    """Sandbox deliveries whose channel message never got its final report (its process died
    before the report was recorded)."""
    rows = await tx.fetch(
        "SELECT s.message_id FROM sandbox_messages s"
        " JOIN channel_messages c ON c.id = s.message_id"
        " WHERE c.state IN ('sending', 'sent', 'unknown') AND s.delivered_us < $1"
        " ORDER BY s.delivered_us LIMIT $2",
        delivered_before_us,
        limit,
    )
    return [r[0] for r in rows]
