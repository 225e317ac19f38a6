"""The scheduling extensions' contract (issue 12; not part of the Messente API): the reschedule
request, the list and inspect answers, the batch answers, and the batch tag."""

from __future__ import annotations

import re
from typing import Annotated, Any

from annotated_types import Ge, Len
from pydantic import Field
from typing_extensions import TypedDict

from tidings.core.contract.responses import Channel, DeliveryResult, Instant, OneOf, Uuid
from tidings.core.contract.rules import Wire
from tidings.core.contract.types import DEFAULTS, TimeToSend, matches

# A batch tag: letters, digits and `._:-`, 1-64 characters (safe in a URL path as it is).
BATCH_FORM = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII)
BATCH_DETAIL = "must be 1-64 characters: letters, digits, '.', '_', ':' or '-'"
BatchTag = Annotated[str, Len(1, 64), matches(BATCH_FORM.pattern, BATCH_DETAIL)]

# The states a list item shows (`processing` is shown as `sent`: handed to a channel).
LIST_STATES = ("scheduled", "paused", "sent", "delivered", "failed", "expired", "cancelled")
ListState = Annotated[str, OneOf(LIST_STATES)]
PRIORITY_NAMES = ("low", "regular", "high")

_TIME_FORMS = (
    "ISO 8601: `YYYY-MM-DDTHH:MM`, optionally `:SS`, optionally `.` and 1-9 fractional digits, "
    "optionally `Z` or an offset; no offset means UTC (the forms of `time_to_send` on send)."
)


class Reschedule(Wire):
    """A new send time for a message still waiting (scheduled or paused). Tidings extension."""

    time_to_send: TimeToSend = Field(
        description="The new send time. "
        + _TIME_FORMS
        + " A time now or in the past sends at once. At most "
        f"{DEFAULTS.max_schedule_ahead_s // 86400} days ahead (server setting), otherwise 400 "
        "with source `time_to_send`.",
        examples=["2030-06-22T09:05:00Z"],
    )

    __examples__ = ({"time_to_send": "2030-06-22T09:05:00Z"},)


_SEND_AT = Field(
    description="When the message is due to be handed to its first channel (UTC, milliseconds, "
    "`Z`): the requested time, or the acceptance time when none was requested (a past time is "
    "sent at once) — or, when `moved_by` is `quiet_hours`, the end of the recipient's quiet "
    "hours that held it."
)
_MOVED_BY = Field(
    description="`quiet_hours` when `send_at` was held past the requested time (or the "
    "acceptance time) by quiet hours, the account's or the message's own; else null. A "
    "reschedule applies the same quiet hours to its new time and sets or clears this."
)
_TIME_TO_SEND = Field(
    description="The requested `time_to_send` (UTC, milliseconds, `Z`), or null when none was "
    "requested."
)


class ListChannel(TypedDict):
    """One channel message of a listed omnimessage."""

    message_id: Annotated[Uuid, Field(description="Id of this channel message.")]
    channel: Channel
    sender: Annotated[str, Field(description="The sender used.")]
    status: Annotated[
        str | None, Field(description="Its latest Messente status; null while pending.")
    ]


class OmnimessageItem(TypedDict):
    """An omnimessage as the list shows it. Tidings extension."""

    omnimessage_id: Annotated[Uuid, Field(description="The omnimessage.")]
    to: Annotated[str, Field(description="The recipient in E.164.")]
    state: Annotated[
        ListState,
        Field(
            description="`scheduled` waiting for its time; `paused` held by a batch pause; "
            "`sent` handed to a channel, no final outcome yet; `delivered`; `failed`; "
            "`expired` (every channel's validity ran out); `cancelled`."
        ),
    ]
    batch: Annotated[str | None, Field(description="Its batch tag, or null.")]
    priority: Annotated[str, OneOf(PRIORITY_NAMES), Field(description="Its priority.")]
    time_to_send: Annotated[Instant | None, _TIME_TO_SEND]
    send_at: Annotated[Instant, _SEND_AT]
    moved_by: Annotated[str | None, OneOf(("quiet_hours", None)), _MOVED_BY]
    created_at: Annotated[Instant, Field(description="When it was accepted (UTC).")]
    channels: Annotated[list[ListChannel], Field(description="Its fallback chain, in order.")]


class OmnimessageList(TypedDict):
    """One page of the account's omnimessages. Tidings extension."""

    items: Annotated[list[OmnimessageItem], Field(description="In the page's order.")]
    next_cursor: Annotated[
        str | None,
        Field(
            description="Pass as `cursor` for the next page (with the same `state`); null on the "
            "last page. A cursor is a position, not a snapshot: messages accepted later appear "
            "on a later page only when they sort after it, and every message that stays in the "
            "listed state is seen exactly once."
        ),
    ]


class ChannelDetail(DeliveryResult):
    """One channel message of an inspected omnimessage: its DeliveryResult plus its content."""

    validity: Annotated[int, Ge(0), Field(description="Its validity, in minutes.")]
    content: Annotated[
        dict[str, Any] | None,
        Field(
            description="The channel content as sent (without `channel`, `sender`, `validity`, "
            "`ttl`), as `text_store` allows: always with `plaintext`; with `sha256` or `nostore` "
            "only while the message is still waiting, null once it has been sent."
        ),
    ]


class HistoryEvent(TypedDict):
    """One event of an omnimessage's history, oldest first."""

    at: Annotated[Instant, Field(description="When it happened (UTC).")]
    kind: Annotated[
        str,
        OneOf(("status", "attempt", "lifecycle")),
        Field(
            description="`status`: a Messente status recorded for a channel message; `attempt`: "
            "a connector's answer to a hand-over; `lifecycle`: rescheduled, paused or resumed."
        ),
    ]
    message_id: Annotated[
        Uuid, Field(description="The channel message (for `lifecycle`: the omnimessage).")
    ]
    status: Annotated[str | None, Field(description="`status`: the status.")]
    outcome: Annotated[
        str | None,
        Field(
            description="`attempt`: accepted, retry, rejected or unknown; `lifecycle`: "
            "rescheduled, paused or resumed."
        ),
    ]
    err: Annotated[int | None, Field(description="Error code, if any.")]
    error: Annotated[str | None, Field(description="Error text, if any.")]
    connector: Annotated[str | None, Field(description="`attempt`: the connector.")]
    send_at: Annotated[
        Instant | None, Field(description="`lifecycle`: the due time after the event.")
    ]


class OmnimessageDetail(TypedDict):
    """The whole omnimessage: channels, contents and history. Tidings extension."""

    omnimessage_id: Annotated[Uuid, Field(description="The omnimessage.")]
    to: Annotated[str, Field(description="The recipient in E.164.")]
    state: Annotated[ListState, Field(description="As in the list.")]
    batch: Annotated[str | None, Field(description="Its batch tag, or null.")]
    priority: Annotated[str, OneOf(PRIORITY_NAMES), Field(description="Its priority.")]
    time_to_send: Annotated[Instant | None, _TIME_TO_SEND]
    send_at: Annotated[Instant, _SEND_AT]
    moved_by: Annotated[str | None, OneOf(("quiet_hours", None)), _MOVED_BY]
    created_at: Annotated[Instant, Field(description="When it was accepted (UTC).")]
    dlr_url: Annotated[str | None, Field(description="Where its delivery reports go.")]
    text_store: Annotated[
        str, OneOf(("plaintext", "sha256", "nostore")), Field(description="Content policy.")
    ]
    channels: Annotated[list[ChannelDetail], Field(description="In fallback order.")]
    history: Annotated[list[HistoryEvent], Field(description="Every event, oldest first.")]


class Rescheduled(TypedDict):
    """The message was moved. Tidings extension."""

    omnimessage_id: Annotated[Uuid, Field(description="The omnimessage.")]
    state: Annotated[str, OneOf(("scheduled", "paused")), Field(description="Still waiting.")]
    time_to_send: Annotated[Instant, Field(description="The new requested time (UTC).")]
    send_at: Annotated[Instant, _SEND_AT]
    moved_by: Annotated[str | None, OneOf(("quiet_hours", None)), _MOVED_BY]


class BatchChanged(TypedDict):
    """What a batch operation changed. Tidings extension."""

    batch: Annotated[str, Field(description="The tag.")]
    changed: Annotated[int, Ge(0), Field(description="How many messages it changed.")]


class BatchCounts(TypedDict):
    """How many messages of a batch are in each state. Tidings extension."""

    batch: Annotated[str, Field(description="The tag.")]
    total: Annotated[int, Ge(0), Field(description="Every message of the batch.")]
    counts: Annotated[
        dict[str, int],
        Field(
            description="Per state (the list's state names); states with no message are 0.",
            json_schema_extra={"propertyNames": {"enum": list(LIST_STATES)}},
        ),
    ]
