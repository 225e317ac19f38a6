"""The response bodies, as TypedDicts: the serialisers build them (checked by mypy) and the
OpenAPI document is generated from them. They are never validated at run time, so building a
response costs nothing more than the dict itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired

from annotated_types import Ge, Len
from pydantic import ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypedDict

from tidings.core.errors import ERROR_PAIRS, MAX_ERRORS
from tidings.core.model import CHANNELS, ERR_TEXT, STATUSES


@dataclass(frozen=True)
class OneOf:
    """Publishes the values a plain `str`/`int` field can take (an enum in the schema)."""

    values: tuple[Any, ...]

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["enum"] = list(self.values)
        return out


_CLIENTS = (
    " Only a channel that the request itself used is ever named here, so clients that know "
    "`telegram` but not `rcs` (messente-api ≤ 2.5.2), and the reverse (2.6.0+), each read back "
    "only what they sent."
)
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Channel = Annotated[str, OneOf(CHANNELS), Field(description="The channel." + _CLIENTS)]


class MessageResult(TypedDict):
    """One channel message of an accepted omnimessage."""

    message_id: Annotated[Uuid, Field(description="Id of this channel message.")]
    channel: Channel
    sender: Annotated[
        str,
        Field(
            description="The sender used: the one requested, or the account default. Never null."
        ),
    ]


class OmniMessageCreateSuccessResponse(TypedDict):
    """The omnimessage was accepted and committed to disk."""

    messages: Annotated[list[MessageResult], Field(description="One entry per channel, in order.")]
    to: Annotated[str, Field(description="The recipient in E.164.")]
    omnimessage_id: Annotated[Uuid, Field(description="Id for status and cancel.")]


class ErrorItemOmnichannel(TypedDict):
    """`Missing data` (106) for a required field that is absent or null; `Invalid data` (105)
    for everything else wrong in a request."""

    title: Annotated[
        str, OneOf(tuple(t for t, _ in ERROR_PAIRS)), Field(description="Paired with `code`.")
    ]
    detail: Annotated[str, Field(description="What is wrong, for humans.")]
    code: Annotated[
        str,
        OneOf(tuple(c for _, c in ERROR_PAIRS)),
        Field(
            description="Error code, a **string**: "
            + "; ".join(f'`"{c}"` {t}' for t, c in ERROR_PAIRS)
            + "."
        ),
    ]
    source: Annotated[
        str | None,
        Field(
            description="On 400, the offending field as a path into the request body, e.g. `to`, "
            "`time_to_send`, `messages[1].text`, "
            "`messages[0].template.components[2].parameters[0].type`; in a bulk request "
            "prefixed by the item, e.g. `messages[3].messages[0].sender`. Null when the whole "
            "body is at fault and on every other status."
        ),
    ]


class ErrorOmnichannel(TypedDict):
    """The error body of every non-2xx answer, whatever caused it."""

    errors: Annotated[
        list[ErrorItemOmnichannel],
        Len(1),
        Field(description=f"Every problem found, at most {MAX_ERRORS} per omnimessage."),
    ]


class BulkOmniMessageCreateSuccessResponse(TypedDict):
    """Per-item results of a bulk send (201 even when some items failed)."""

    messages: Annotated[
        list[OmniMessageCreateSuccessResponse | ErrorOmnichannel],
        Field(
            description="One item per requested omnimessage, in order: a success object, or an "
            "error object whose `source` values are prefixed `messages[i].`."
        ),
    ]


class EmptyObject(TypedDict):
    """An empty JSON object, `{}`."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]


class PriceInfo(TypedDict):
    """Cost of a channel message (present once priced)."""

    part_price: Annotated[str, Field(description="Price of one part, decimal string.")]
    parts_count: Annotated[int, Ge(0), Field(description="Number of parts.")]
    total_price: Annotated[str, Field(description="Total price, decimal string.")]


class DeliveryResult(TypedDict):
    """The status of one channel message."""

    status: Annotated[
        Annotated[str, OneOf(STATUSES)] | None,
        Field(
            description="Latest status of this channel message; null while pending. ACK operator "
            "accepted; DELIVRD delivered; UNDELIV not delivered; FAILED failed; UNKNOWN unknown; "
            "ACCEPTD queued at the operator; REJECTD rejected; DELETED cancelled before sending; "
            "EXPIRED validity ran out; NACK refused; SEEN seen by the recipient."
        ),
    ]
    channel: Channel
    message_id: Annotated[Uuid, Field(description="Id of this channel message.")]
    sender: Annotated[str | None, Field(description="The sender used.")]
    err: Annotated[
        Annotated[int, OneOf(tuple(ERR_TEXT))] | None,
        Field(
            description="Machine error code; null while pending. "
            + "; ".join(f"{k} {v or 'no error'}" for k, v in ERR_TEXT.items())
            + "."
        ),
    ]
    error: Annotated[str | None, Field(description="Human-readable error, or null.")]
    timestamp: Annotated[
        Instant | None,
        Field(
            description="When this status was recorded (UTC, microseconds, `Z`); null while pending."
        ),
    ]
    price_info: NotRequired[PriceInfo]


class DeliveryReportResponse(TypedDict):
    """Current delivery state of an omnimessage."""

    omnimessage_id: Annotated[Uuid, Field(description="The omnimessage.")]
    to: Annotated[str, Field(description="The recipient in E.164.")]
    statuses: Annotated[
        list[DeliveryResult],
        Field(
            description="One entry per channel message, in send order. A scheduled message has "
            "one entry per channel with `status: null`; after cancel each entry has "
            '`status: "DELETED"`.'
        ),
    ]


class DeliveryReportWebhook(DeliveryResult):
    """Body of a delivery report POSTed to `dlr_url`: a DeliveryResult plus `to` and
    `omnimessage_id`."""

    to: Annotated[str, Field(description="The recipient in E.164.")]
    omnimessage_id: Annotated[Uuid, Field(description="The omnimessage.")]


class SandboxMessage(TypedDict):
    """A message delivered into the sandbox inbox."""

    message_id: Annotated[Uuid, Field(description="The channel message.")]
    omnimessage_id: Annotated[Uuid, Field(description="Its omnimessage.")]
    channel: Annotated[str, OneOf(CHANNELS), Field(description="The channel it was sent on.")]
    to: Annotated[str, Field(description="The recipient in E.164.")]
    sender: Annotated[str, Field(description="The sender used.")]
    text: Annotated[
        str,
        Field(
            description="A readable plain-text rendering of the content (media, buttons and "
            "templates as bracketed tags)."
        ),
    ]
    content: Annotated[
        dict[str, Any],
        Field(
            description="The validated channel content as sent (without `channel`, `sender`, "
            "`validity`, `ttl`)."
        ),
    ]
    delivered_at: Annotated[Instant, Field(description="When the sandbox delivered it (UTC).")]


class SandboxMessageList(TypedDict):
    """Sandbox inbox contents."""

    messages: Annotated[list[SandboxMessage], Field(description="Newest first.")]


class Health(TypedDict):
    """Liveness answer."""

    status: Literal["ok"]
