"""Plain records crossing the store port. Times are UTC microseconds since the epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tidings.core.dispatch import Report, SendJob, SendOutcome, StatusChange
from tidings.core.lifecycle import TimerKind

__all__ = ["Report", "SendJob", "SendOutcome", "StatusChange", "TimerKind"]


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    username: str
    password_hash: str
    default_sender: str
    dlr_url: str | None
    signing_secret: str
    created_us: int
    version: int = 1  # grows with every change of the row (password, sender, DLR URL)


@dataclass(frozen=True, slots=True)
class NewChannelMessage:
    id: str
    channel: str
    sender: str
    validity_s: int
    content: str  # JSON text of the validated channel content


@dataclass(frozen=True, slots=True)
class NewOmnimessage:
    id: str
    account_id: int
    to: str
    priority: int
    time_to_send_us: int | None
    due_us: int
    dlr_url: str | None
    text_store: str
    created_us: int
    channels: tuple[NewChannelMessage, ...]


@dataclass(frozen=True, slots=True)
class ChannelView:
    id: str
    position: int
    channel: str
    sender: str
    validity_s: int
    content: str | None
    state: str
    status: str | None
    err: int | None
    error: str | None
    status_us: int | None
    sent_us: int | None
    parts_count: int | None
    part_price: str | None


@dataclass(frozen=True, slots=True)
class OmniView:
    id: str
    account_id: int
    to: str
    state: str
    priority: int
    time_to_send_us: int | None
    due_us: int
    dlr_url: str | None
    text_store: str
    position: int
    created_us: int
    channels: tuple[ChannelView, ...]


class CancelResult(StrEnum):
    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already_cancelled"
    NOT_FOUND = "not_found"  # no such message, another account's, or already sending


@dataclass(frozen=True, slots=True)
class Claim:
    timer_id: int
    kind: str
    ref: str  # omnimessage id
    due_us: int
    priority: int
    lease_token: int


@dataclass(slots=True)
class FireResult:
    sends: list[SendJob] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    cancelled: int = 0  # send timers whose message had been cancelled meanwhile
    lost_lease: int = 0


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    released: int  # claimed send timers whose lease ran out: pending again
    unknown: tuple[SendJob, ...]  # channel messages caught mid-send: now `unknown`


@dataclass(frozen=True, slots=True)
class SandboxMessage:
    message_id: str
    omnimessage_id: str
    account_id: int
    channel: str
    to: str
    sender: str
    text: str
    content: str
    delivered_us: int


@dataclass(frozen=True, slots=True)
class ThrottleRow:
    """Sign-in failure state of one key (a client, an address, a username, or a known pair)."""

    key: str
    failures: int
    blocked_until_us: int
    expires_us: int  # the row may be forgotten after this


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """Tokens taken from a shared bucket, and what the bucket holds after."""

    granted: float
    left: float
