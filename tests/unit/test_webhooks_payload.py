"""Webhook JSON bodies."""

from __future__ import annotations

import orjson

from tidings.core.dispatch import StatusChange
from tidings.webhooks.payload import delivery_report_body, inbound_message_body

AT_US = 1_795_805_030_350_272  # 2026-11-27T18:43:50.350272Z


def change(**kw: object) -> StatusChange:
    fields: dict[str, object] = {
        "omnimessage_id": "om-1",
        "message_id": "m-1",
        "account_id": 7,
        "to": "+3725555555",
        "channel": "sms",
        "sender": "Tidings",
        "status": "DELIVRD",
        "err": 0,
        "error": None,
        "at_us": AT_US,
        "dlr_url": "https://hooks.example/dlr",
    }
    fields.update(kw)
    return StatusChange(**fields)  # type: ignore[arg-type]


def test_delivery_report_body_fields_and_timestamp() -> None:
    body = delivery_report_body(change())
    assert orjson.loads(body) == {
        "status": "DELIVRD",
        "channel": "sms",
        "message_id": "m-1",
        "sender": "Tidings",
        "err": 0,
        "error": None,
        "timestamp": "2026-11-27T18:43:50.350272Z",
        "to": "+3725555555",
        "omnimessage_id": "om-1",
    }
    assert b"account_id" not in body and b"dlr_url" not in body


def test_timestamp_keeps_zero_microseconds() -> None:
    body = orjson.loads(delivery_report_body(change(at_us=1_700_000_000_000_000)))
    assert body["timestamp"] == "2023-11-14T22:13:20.000000Z"


def test_price_info_when_known() -> None:
    body = orjson.loads(delivery_report_body(change(parts_count=3, part_price="0.0375")))
    assert body["price_info"] == {"part_price": "0.0375", "parts_count": 3, "total_price": "0.1125"}
    assert isinstance(body["price_info"]["parts_count"], int)


def test_failure_report() -> None:
    body = orjson.loads(
        delivery_report_body(change(status="UNDELIV", err=1, error="delivery failure"))
    )
    assert (body["status"], body["err"], body["error"]) == ("UNDELIV", 1, "delivery failure")
    assert "price_info" not in body


def test_inbound_body() -> None:
    body = inbound_message_body(
        msg_id="a",
        sub_msg_id="b",
        channel="sms",
        recipient="1234",
        time_us=1_614_091_873_000_000,
        text="hi",
        sender="+44000000000",
    )
    assert orjson.loads(body) == {
        "msg_id": "a",
        "sub_msg_id": "b",
        "channel": "sms",
        "recipient": "1234",
        "time": "2021-02-23T14:51:13.000000Z",
        "text": "hi",
        "sender": "+44000000000",
    }
