"""JSON bodies of outgoing webhooks.

The delivery-report body is built in ``tidings.core.report_payload`` (the status endpoint shares
its field formatting); this module re-exports it next to the inbound-message body.
"""

from __future__ import annotations

import orjson

from tidings.core.report_payload import delivery_report, delivery_report_body, iso_us

__all__ = ["delivery_report", "delivery_report_body", "inbound_message_body"]


def inbound_message_body(
    *,
    msg_id: str,
    sub_msg_id: str,
    channel: str,
    recipient: str,
    time_us: int,
    text: str,
    sender: str,
) -> bytes:
    """An inbound (MO) webhook body, Messente's shape:
    ``{msg_id, sub_msg_id, channel, recipient, time, text, sender}``, ``time`` like
    ``2021-02-23T14:51:13.000000Z``."""
    return orjson.dumps(
        {
            "msg_id": msg_id,
            "sub_msg_id": sub_msg_id,
            "channel": channel,
            "recipient": recipient,
            "time": iso_us(time_us),
            "text": text,
            "sender": sender,
        }
    )
