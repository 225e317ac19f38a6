"""What moves between the dispatcher, the connectors and the store while a message is sent.

Times are UTC microseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class SendJob:
    """A channel message now in state `sending`, to be handed to its connector."""

    timer_id: int
    lease_token: int
    due_us: int
    omnimessage_id: str
    account_id: int
    to: str
    message_id: str
    position: int
    channel: str
    sender: str
    validity_s: int
    content: str
    # When the channel's validity ends (UTC us; None: unknown). A connector that retries
    # internally (SMPP throttling) stops there: the channel cannot deliver in time anyway.
    deadline_us: int | None = None


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the connector took it; reports will follow
    REJECTED = "rejected"  # refused for good: this channel has failed
    RETRY = "retry"  # refused for now, or proven never received: same channel at retry_at_us
    UNKNOWN = "unknown"  # no answer: it may or may not have left; never resend blindly


@dataclass(frozen=True, slots=True)
class SendOutcome:
    job: SendJob
    outcome: Outcome
    connector: str
    provider_ref: str | None = None
    err: int | None = None
    error: str | None = None
    retry_at_us: int | None = None
    parts_count: int | None = None
    status: str | None = None  # a status known from the answer itself (e.g. ACK): recorded at once
    handed_us: int | None = None  # when the connector was handed the message (set by the engine)


@dataclass(frozen=True, slots=True)
class Report:
    """A delivery report from a connector, matched on the message id (our idempotency key)."""

    message_id: str
    status: str
    err: int
    error: str | None
    at_us: int
    parts_count: int | None = None
    part_price: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A status that was actually recorded: what a delivery-report webhook carries."""

    omnimessage_id: str
    message_id: str
    account_id: int
    to: str
    channel: str
    sender: str
    status: str
    err: int | None
    error: str | None
    at_us: int
    dlr_url: str | None
    parts_count: int | None = None
    part_price: str | None = None
