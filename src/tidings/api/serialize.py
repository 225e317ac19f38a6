"""Wire shapes of responses: send results, DeliveryResult, sandbox messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tidings.store.records import ChannelView, NewOmnimessage, OmniView, SandboxMessage

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_us(us: int | None) -> str | None:
    """UTC ISO 8601 with microseconds and a Z, exact (no float rounding)."""
    if us is None:
        return None
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def send_result(o: NewOmnimessage) -> dict[str, Any]:
    return {
        "messages": [
            {"message_id": c.id, "channel": c.channel, "sender": c.sender} for c in o.channels
        ],
        "to": o.to,
        "omnimessage_id": o.id,
    }


def delivery_result(c: ChannelView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": c.status,
        "channel": c.channel,
        "message_id": c.id,
        "sender": c.sender,
        "err": c.err,
        "error": c.error,
        "timestamp": iso_us(c.status_us),
    }
    if c.part_price is not None and c.parts_count is not None:
        total = f"{float(c.part_price) * c.parts_count:.6f}".rstrip("0").rstrip(".")
        out["price_info"] = {
            "part_price": c.part_price,
            "parts_count": c.parts_count,
            "total_price": total,
        }
    return out


def status_body(o: OmniView) -> dict[str, Any]:
    return {
        "omnimessage_id": o.id,
        "to": o.to,
        "statuses": [delivery_result(c) for c in o.channels],
    }


def sandbox_message(m: SandboxMessage) -> dict[str, Any]:
    return {
        "message_id": m.message_id,
        "omnimessage_id": m.omnimessage_id,
        "channel": m.channel,
        "to": m.to,
        "sender": m.sender,
        "text": m.text,
        "content": orjson.loads(m.content) if m.content else {},
        "delivered_at": iso_us(m.delivered_us),
    }
