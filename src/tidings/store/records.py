"""Plain records crossing the store's ports. Times are UTC microseconds since the epoch.

A record read from the database has a `from_row` classmethod that reads its columns by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tidings.core.dispatch import Report, SendJob, SendOutcome, StatusChange
from tidings.core.lifecycle import TimerKind
from tidings.store.tx import Row

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
    quiet_hours: str | None = None  # "HH:MM-HH:MM" in the recipient's local time, or none

    @classmethod
    def from_row(cls, r: Row) -> Account:
        return cls(
            id=r["id"],
            username=r["username"],
            password_hash=r["password_hash"],
            default_sender=r["default_sender"],
            dlr_url=r["dlr_url"],
            signing_secret=r["signing_secret"],
            created_us=r["created_us"],
            version=r["version"],
            quiet_hours=r["quiet_hours"],
        )


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
    moved_by: str | None = None  # "quiet_hours" when due_us was held past the requested time
    batch: str | None = None  # the tag batch operations act on (issue 12)
    # The request's own quiet hours: None (not named), "" (null: none) or "HH:MM-HH:MM"
    # (core/quiet_hours.py, OWN_NONE); a reschedule applies them again.
    quiet_hours: str | None = None
    # None for every ordinary message; an opt-out rule's confirmation says so (`Purpose`): the
    # fire-time blacklist rule lets it through (core/lifecycle.py, `on_fire_send`).
    purpose: str | None = None


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

    @classmethod
    def from_row(cls, r: Row) -> ChannelView:
        return cls(
            id=r["id"],
            position=r["position"],
            channel=r["channel"],
            sender=r["sender"],
            validity_s=r["validity_s"],
            content=r["content"],
            state=r["state"],
            status=r["status"],
            err=r["err"],
            error=r["error"],
            status_us=r["status_us"],
            sent_us=r["sent_us"],
            parts_count=r["parts_count"],
            part_price=r["part_price"],
        )


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
    moved_by: str | None = None  # "quiet_hours": due_us was held past the requested time
    batch: str | None = None

    @classmethod
    def from_row(cls, r: Row, channels: tuple[ChannelView, ...]) -> OmniView:
        return cls(
            id=r["id"],
            account_id=r["account_id"],
            to=r["to_number"],
            state=r["state"],
            priority=r["priority"],
            time_to_send_us=r["time_to_send_us"],
            due_us=r["due_us"],
            dlr_url=r["dlr_url"],
            text_store=r["text_store"],
            position=r["position"],
            created_us=r["created_us"],
            channels=channels,
            moved_by=r["moved_by"],
            batch=r["batch"],
        )


class CancelResult(StrEnum):
    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already_cancelled"
    NOT_FOUND = "not_found"  # no such message, another account's, or already sending
    # The caller's account changed (or went) since its credential was checked: nothing done;
    # authenticate again (a request names the version it saw to be checked at all).
    ACCOUNT_CHANGED = "account_changed"


@dataclass(frozen=True, slots=True)
class Claim:
    timer_id: int
    kind: str
    ref: str  # omnimessage id
    due_us: int
    priority: int
    lease_token: int

    @classmethod
    def from_row(cls, r: Row, lease_token: int) -> Claim:
        return cls(r["id"], r["kind"], r["ref"], r["due_us"], r["priority"], lease_token)


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

    @classmethod
    def from_row(cls, r: Row) -> SandboxMessage:
        return cls(
            message_id=r["message_id"],
            omnimessage_id=r["omnimessage_id"],
            account_id=r["account_id"],
            channel=r["channel"],
            to=r["to_number"],
            sender=r["sender"],
            text=r["text"],
            content=r["content"],
            delivered_us=r["delivered_us"],
        )


@dataclass(frozen=True, slots=True)
class ThrottleRow:
    """Sign-in failure state of one key (a client, an address, a username, or a known pair)."""

    key: str
    failures: int
    blocked_until_us: int
    expires_us: int  # the row may be forgotten after this

    @classmethod
    def from_row(cls, r: Row) -> ThrottleRow:
        return cls(
            str(r["key"]), int(r["failures"]), int(r["blocked_until_us"]), int(r["expires_us"])
        )


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """Tokens taken from a shared bucket, and what the bucket holds after."""

    granted: float
    left: float

    @classmethod
    def from_row(cls, r: Row) -> TokenGrant:
        return cls(float(r["granted"]), float(r["tokens"]))


# the event log


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the append-only event log."""

    id: int
    message_id: str
    kind: str  # status | attempt | lifecycle (rescheduled, paused, resumed: in `outcome`)
    status: str | None
    outcome: str | None
    err: int | None
    error: str | None
    connector: str | None
    provider_ref: str | None
    parts_count: int | None
    part_price: str | None
    at_us: int
    due_us: int | None = None  # a lifecycle event's due time after it

    @classmethod
    def from_row(cls, r: Row) -> EventRow:
        return cls(
            id=r["id"],
            message_id=r["message_id"],
            kind=r["kind"],
            status=r["status"],
            outcome=r["outcome"],
            err=r["err"],
            error=r["error"],
            connector=r["connector"],
            provider_ref=r["provider_ref"],
            parts_count=r["parts_count"],
            part_price=r["part_price"],
            at_us=r["at_us"],
            due_us=r["due_us"],
        )


# the webhook outbox


@dataclass(frozen=True, slots=True)
class WebhookJob:
    id: int
    account_id: int
    omnimessage_id: str
    url: str
    body: bytes
    attempts: int  # attempts made before this one
    signing_secret: str

    @classmethod
    def from_row(cls, r: Row, signing_secret: str) -> WebhookJob:
        return cls(
            id=r["id"],
            account_id=r["account_id"],
            omnimessage_id=r["omnimessage_id"],
            url=r["url"],
            body=str(r["body"]).encode(),
            attempts=r["attempts"],
            signing_secret=signing_secret,
        )


@dataclass(frozen=True, slots=True)
class WebhookResult:
    job: WebhookJob
    at_us: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    next_us: int | None  # when to try again; None = give up (unless ok)
    final_state: str | None = None  # "gone" | "blocked" to stop at once


@dataclass(frozen=True, slots=True)
class WebhookAttemptView:
    webhook_id: int
    message_id: str
    url: str
    state: str
    attempt: int
    at_us: int
    status_code: int | None
    error: str | None
    duration_ms: float | None

    @classmethod
    def from_row(cls, r: Row) -> WebhookAttemptView:
        return cls(
            webhook_id=r["webhook_id"],
            message_id=r["message_id"],
            url=r["url"],
            state=r["state"],
            attempt=r["attempt"],
            at_us=r["at_us"],
            status_code=r["status_code"],
            error=r["error"],
            duration_ms=r["duration_ms"],
        )


# provider connectors


@dataclass(frozen=True, slots=True)
class ProviderEventKey:
    """One callback event to record: its de-duplication key and the provider's message ref."""

    event_key: str
    provider_ref: str
    message_id: str | None = None  # our id, when the provider echoes it back


@dataclass(frozen=True, slots=True)
class ProviderEventResult:
    event_key: str
    message_id: str | None  # our channel message id; None when the ref is not (yet) known
    new: bool  # False: seen before (a replay or a repeat), nothing to do


# console reads

Cursor = tuple[int, str]  # (time in microseconds, id): a keyset position


@dataclass(frozen=True, slots=True)
class ChannelBrief:
    omnimessage_id: str
    position: int
    channel: str
    sender: str
    content: str | None
    status: str | None

    @classmethod
    def from_row(cls, r: Row) -> ChannelBrief:
        return cls(
            omnimessage_id=r["omnimessage_id"],
            position=r["position"],
            channel=r["channel"],
            sender=r["sender"],
            content=r["content"],
            status=r["status"],
        )


@dataclass(frozen=True, slots=True)
class OmniBrief:
    """One omnimessage as a list row: scheduled queue and search results."""

    id: str
    to: str
    state: str
    priority: int
    time_to_send_us: int | None
    due_us: int
    created_us: int
    channels: tuple[ChannelBrief, ...]

    @classmethod
    def from_row(cls, r: Row, channels: tuple[ChannelBrief, ...]) -> OmniBrief:
        tts = r["time_to_send_us"]
        return cls(
            id=str(r["id"]),
            to=str(r["to_number"]),
            state=str(r["state"]),
            priority=int(r["priority"]),
            time_to_send_us=None if tts is None else int(tts),
            due_us=int(r["due_us"]),
            created_us=int(r["created_us"]),
            channels=channels,
        )


@dataclass(frozen=True, slots=True)
class SandboxDelivery:
    message_id: str
    channel: str
    delivered_us: int
    handovers: int

    @classmethod
    def from_row(cls, r: Row) -> SandboxDelivery:
        return cls(r["message_id"], r["channel"], r["delivered_us"], r["handovers"])


@dataclass(frozen=True, slots=True)
class WebhookReport:
    id: int
    message_id: str
    url: str
    state: str
    attempts: int
    created_us: int
    finished_us: int | None
    last_status: int | None
    last_error: str | None
    body: str

    @classmethod
    def from_row(cls, r: Row) -> WebhookReport:
        return cls(
            id=r["id"],
            message_id=r["message_id"],
            url=r["url"],
            state=r["state"],
            attempts=r["attempts"],
            created_us=r["created_us"],
            finished_us=r["finished_us"],
            last_status=r["last_status"],
            last_error=r["last_error"],
            body=r["body"],
        )


@dataclass(frozen=True, slots=True)
class Timeline:
    message: OmniView
    deliveries: tuple[SandboxDelivery, ...]
    reports: tuple[WebhookReport, ...]
    attempts: tuple[WebhookAttemptView, ...]
    history: tuple[EventRow, ...] = ()  # the event log of the message, oldest first


@dataclass(frozen=True, slots=True)
class KeyAnswer:
    """The answer to keep for a claimed `Idempotency-Key`: written by the claim's holder
    (`token`), in the transaction that acted where it can (see store/idempotency.py)."""

    account_id: int
    key: str
    token: int
    status: int
    headers: str  # a JSON array of [name, value] pairs
    body: bytes


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An `Idempotency-Key` as stored: pending (claimed, no answer yet) or done (answered)."""

    request_hash: str
    token: int
    state: str  # 'pending' | 'done'
    status: int | None
    headers: str | None
    body: bytes | None
    created_us: int
    claimed_us: int

    @classmethod
    def from_row(cls, r: Row) -> KeyRow:
        body = r["body"]
        return cls(
            request_hash=r["request_hash"],
            token=r["token"],
            state=r["state"],
            status=r["status"],
            headers=r["headers"],
            body=None if body is None else bytes(body),
            created_us=r["created_us"],
            claimed_us=r["claimed_us"],
        )


class BlacklistSource(StrEnum):
    """Who listed or unlisted a number."""

    API = "api"  # the Phonebook API (and the CLI, which goes through it)
    OPT_OUT = "opt_out"  # a keyword opt-out (core/opt_out.py) from an inbound message
    OPT_IN = "opt_in"  # a keyword opt-in


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    """A number an account never sends to."""

    phone: str
    source: str
    inbound_id: str | None  # the inbound message of an opt-out
    created_us: int

    @classmethod
    def from_row(cls, r: Row) -> BlacklistEntry:
        return cls(r["phone"], r["source"], r["inbound_id"], r["created_us"])


@dataclass(frozen=True, slots=True)
class BlacklistEvent:
    """One row of a number's append-only blacklist history. `action`: added, removed, or
    unchanged (a keyword that found the number already as it asked: a repeated STOP)."""

    phone: str
    action: str
    source: str
    inbound_id: str | None
    at_us: int

    @classmethod
    def from_row(cls, r: Row) -> BlacklistEvent:
        return cls(r["phone"], r["action"], r["source"], r["inbound_id"], r["at_us"])


@dataclass(frozen=True, slots=True)
class InboundView:
    """A stored inbound message, as the console shows it."""

    id: str
    connector: str
    account_id: int | None
    channel: str
    sender: str
    recipient: str
    text: str
    content: str | None
    at_us: int
    received_us: int
    forward_state: str
    opt_out: str | None

    @classmethod
    def from_row(cls, r: Row) -> InboundView:
        return cls(
            id=r["id"],
            connector=r["connector"],
            account_id=r["account_id"],
            channel=r["channel"],
            sender=r["sender"],
            recipient=r["recipient"],
            text=r["text"],
            content=r["content"],
            at_us=r["at_us"],
            received_us=r["received_us"],
            forward_state=r["forward_state"],
            opt_out=r["opt_out"],
        )
