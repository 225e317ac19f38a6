"""The JSON body of a delivery-report webhook: a DeliveryResult plus `to` and `omnimessage_id`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import overload

import orjson

from tidings.core.contract.responses import DeliveryReportWebhook, PriceInfo
from tidings.core.dispatch import StatusChange

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@overload
def iso_us(us: int) -> str: ...
@overload
def iso_us(us: None) -> None: ...
@overload
def iso_us(us: int | None) -> str | None: ...
def iso_us(us: int | None) -> str | None:
    """UTC ISO 8601 with microseconds and a Z, exact (no float rounding)."""
    if us is None:
        return None
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def price_info(part_price: str | None, parts_count: int | None) -> PriceInfo | None:
    if part_price is None or parts_count is None:
        return None
    try:
        total = format((Decimal(part_price) * parts_count).normalize(), "f")
    except InvalidOperation:
        return None
    return {"part_price": part_price, "parts_count": parts_count, "total_price": total}


def delivery_report(change: StatusChange) -> DeliveryReportWebhook:
    body: DeliveryReportWebhook = {
        "status": change.status,
        "channel": change.channel,
        "message_id": change.message_id,
        "sender": change.sender,
        "err": change.err,
        "error": change.error,
        "timestamp": iso_us(change.at_us),
        "to": change.to,
        "omnimessage_id": change.omnimessage_id,
    }
    if (info := price_info(change.part_price, change.parts_count)) is not None:
        body["price_info"] = info
    return body


def delivery_report_body(change: StatusChange) -> bytes:
    return orjson.dumps(delivery_report(change))
