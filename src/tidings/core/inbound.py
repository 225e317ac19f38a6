"""Inbound (MO) messages: what a connector parsed from a provider, and the body we forward.

An inbound message is identified by `(connector, key)`: the provider's own message id (a wamid,
`chat_id:message_id` for Telegram, the SMSC's reference for a reassembled SMS), so a replayed
webhook is recognised and changes nothing. The body forwarded to an account's inbound URL
follows Messente's inbound format (`msg_id`, `sub_msg_id`, `channel`, `recipient`, `time`,
`text`, `sender`), plus Tidings extensions (`connector`, `content`, `opt_out`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tidings.core.phone import normalise_msisdn
from tidings.core.report_payload import iso_us

MAX_TEXT = 16_384  # longer texts are cut (no channel carries more in one message)
MAX_KEY = 200


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a recipient sent us, as a connector parsed it (before it is stored).

    `sender` is the recipient's number (E.164 when it can be read as one); `recipient` is our
    side of the conversation (the number, bot or sender id written to). `content` holds what a
    plain text cannot: media, a button reply's payload, an RCS postback. `account_id` is set
    only when the owner is known from the request itself (the sandbox's replies)."""

    key: str
    channel: str
    sender: str
    recipient: str
    text: str
    at_us: int
    content: dict[str, Any] | None = None
    account_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredInbound:
    """An inbound message as stored: our id, its owner (None: no account claimed it) and, when
    the owner has an inbound URL, where it is forwarded."""

    id: str
    connector: str
    message: InboundMessage
    account_id: int | None
    inbound_url: str | None
    received_us: int
    opt_out: str | None = None  # "out" / "in" once the opt-out hook recognised a keyword


def sender_number(raw: str) -> str:
    """The sender as E.164 when it reads as an international number (with or without its
    '+'), else as given (an alphanumeric or short code sender)."""
    value = raw.strip()
    try:
        return normalise_msisdn(value if value.startswith("+") else "+" + value)
    except ValueError:
        return value


def clip_text(text: str) -> str:
    return text[:MAX_TEXT]


def inbound_body(stored: StoredInbound) -> bytes:
    """The JSON POSTed to the inbound URL. `opt_out`: null, "out" or "in" (a STOP / START
    keyword recognised by the opt-out handling)."""
    m = stored.message
    body: dict[str, Any] = {
        "msg_id": stored.id,
        "sub_msg_id": stored.id,
        "channel": m.channel,
        "recipient": m.recipient,
        "time": iso_us(m.at_us),
        "text": m.text,
        "sender": m.sender,
        # Tidings extensions
        "connector": stored.connector,
        "content": m.content,
        "opt_out": stored.opt_out,
    }
    return orjson.dumps(body)
