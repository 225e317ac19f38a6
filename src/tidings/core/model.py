"""Domain values: what a validated request is, and the states an omnimessage moves through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

CHANNELS = ("sms", "viber", "whatsapp", "rcs", "telegram")
PRIORITIES = {"low": 0, "regular": 1, "high": 2}
TEXT_STORES = ("plaintext", "sha256", "nostore")

# DeliveryResult.status values the official clients accept.
STATUSES = (
    "ACK",
    "DELIVRD",
    "UNDELIV",
    "FAILED",
    "UNKNOWN",
    "ACCEPTD",
    "REJECTD",
    "DELETED",
    "EXPIRED",
    "NACK",
    "SEEN",
)
FINAL_SUCCESS = frozenset({"DELIVRD", "SEEN"})
FINAL_FAILURE = frozenset({"UNDELIV", "FAILED", "REJECTD", "EXPIRED", "NACK"})

# err codes -> human text (DESIGN.md section 1).
ERR_TEXT: dict[int, str | None] = {
    0: None,
    1: "Delivery failure",
    2: "Sending expired",
    3: "Invalid number",
    4: "Error crediting account",
    5: "Invalid number format",
    6: "Too many identical messages",
    7: "Sender name not allowed",
    8: "Operator blacklisted",
    9: "Unroutable",
    10: "Seen",
    999: "General temporary error",
}


class OmniState(StrEnum):
    SCHEDULED = "scheduled"
    PAUSED = "paused"  # scheduled, held: its timer does not fire until resumed
    PROCESSING = "processing"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# The states an omnimessage ends in (never left; listed on omnimessages_final_created).
FINAL_OMNI_STATES = frozenset(
    {OmniState.DELIVERED, OmniState.FAILED, OmniState.EXPIRED, OmniState.CANCELLED}
)


class ChannelState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    SEEN = "seen"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Limits:
    """Configurable bounds applied by validation."""

    default_validity_s: int = 360 * 60
    max_validity_s: int = 7 * 24 * 3600
    max_schedule_ahead_s: int = 365 * 24 * 3600
    max_bulk: int = 1000


@dataclass(frozen=True, slots=True)
class ChannelRequest:
    """One validated channel object of the fallback chain.

    `content` holds the channel-specific fields exactly as the caller sent them (minus `channel`,
    `sender`, `validity` and `ttl`), already validated.
    """

    channel: str
    sender: str | None
    validity_s: int
    content: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OmnimessageRequest:
    to: str  # E.164, normalised with a leading '+'
    messages: tuple[ChannelRequest, ...]
    time_to_send: datetime | None  # aware, UTC; None = now
    dlr_url: str | None
    text_store: str = "plaintext"
    priority: str = "regular"
    extra: dict[str, Any] = field(default_factory=dict)
    # Extension: the request's own quiet hours ("HH:MM-HH:MM"), when `quiet_hours_given`; else
    # the account's apply. Given as null: none at all.
    quiet_hours: str | None = None
    quiet_hours_given: bool = False
    batch: str | None = None
