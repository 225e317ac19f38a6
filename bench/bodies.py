"""Request bodies the benchmarks send."""

from __future__ import annotations

from typing import Any

import orjson

# 120 characters of GSM-7 text: one realistic reminder.
TEXT_120 = (
    "Hi Maria, this is a reminder of your appointment at Vesi Dental on Fri 14:30. "
    "Reply YES to confirm or call 6123456 to move it."
)[:120].ljust(120, ".")
assert len(TEXT_120) == 120


def phone(i: int) -> str:
    """A valid Estonian mobile number (+372 5xxxxxxx), distinct for i < 10^7."""
    return f"+3725{i % 10_000_000:07d}"


def sms_only(i: int, time_to_send: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"to": phone(i), "messages": [{"channel": "sms", "text": TEXT_120}]}
    if time_to_send is not None:
        body["time_to_send"] = time_to_send
    return body


def sms_viber(i: int, time_to_send: str | None) -> dict[str, Any]:
    """SMS first, Viber as its fallback; 120-character text; explicit sender and validity."""
    body: dict[str, Any] = {
        "to": phone(i),
        "messages": [
            {"channel": "sms", "sender": "VesiDental", "text": TEXT_120, "validity": 60},
            {
                "channel": "viber",
                "sender": "VesiDental",
                "text": TEXT_120,
                "button_text": "Confirm",
                "button_url": "https://example.com/confirm/8f2c1e",
                "validity": 60,
            },
        ],
    }
    if time_to_send is not None:
        body["time_to_send"] = time_to_send
    return body


def bulk(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"messages": items})


def dumps(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)
