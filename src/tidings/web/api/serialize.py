"""Wire shapes of responses: send results, DeliveryResult, sandbox messages."""

from __future__ import annotations

import orjson

from tidings.core.contract.responses import (
    DeliveryReportResponse,
    DeliveryResult,
    OmniMessageCreateSuccessResponse,
)
from tidings.core.contract.responses import (
    SandboxMessage as SandboxMessageBody,
)
from tidings.core.report_payload import iso_us, price_info
from tidings.store.records import ChannelView, NewOmnimessage, OmniView, SandboxMessage


def send_result(o: NewOmnimessage) -> OmniMessageCreateSuccessResponse:
    return {
        "messages": [
            {"message_id": c.id, "channel": c.channel, "sender": c.sender} for c in o.channels
        ],
        "to": o.to,
        "omnimessage_id": o.id,
    }


def delivery_result(c: ChannelView) -> DeliveryResult:
    out: DeliveryResult = {
        "status": c.status,
        "channel": c.channel,
        "message_id": c.id,
        "sender": c.sender,
        "err": c.err,
        "error": c.error,
        "timestamp": iso_us(c.status_us),
    }
    if (info := price_info(c.part_price, c.parts_count)) is not None:
        out["price_info"] = info
    return out


def status_body(o: OmniView) -> DeliveryReportResponse:
    return {
        "omnimessage_id": o.id,
        "to": o.to,
        "statuses": [delivery_result(c) for c in o.channels],
    }


def sandbox_message(m: SandboxMessage) -> SandboxMessageBody:
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
