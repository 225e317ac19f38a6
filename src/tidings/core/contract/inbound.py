"""Inbound (MO) messages' contract (issue 13; Tidings extensions): the sandbox's simulated reply
and the body forwarded to an account's inbound URL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Len
from pydantic import Field
from typing_extensions import TypedDict

from tidings.core.contract.responses import Channel, Instant, OneOf, Uuid
from tidings.core.contract.rules import Wire
from tidings.core.contract.types import Recipient

SANDBOX_TEXT_MAX = 4096
OPT_OUT_MARKS = ("out", "in")


class SandboxInbound(Wire):
    """A reply from a recipient, simulated in the sandbox. Tidings extension."""

    from_: Recipient = Field(
        alias="from",
        description="The number that answers (E.164), usually one you sent to.",
        examples=["+37251234567"],
    )
    channel: Literal["sms", "viber", "whatsapp", "rcs", "telegram"] = Field(
        description="The channel the reply comes on."
    )
    text: Annotated[str, Len(1, SANDBOX_TEXT_MAX)] = Field(
        description="What the recipient wrote.", examples=["Yes, see you at 10"]
    )

    __examples__ = ({"from": "+37251234567", "channel": "sms", "text": "Yes, see you at 10"},)


class InboundMessageBody(TypedDict):
    """An inbound message, as POSTed to the account's inbound URL (Messente's inbound format
    plus Tidings extensions) and as the sandbox reply endpoint answers."""

    msg_id: Annotated[Uuid, Field(description="Our id of the inbound message.")]
    sub_msg_id: Annotated[
        Uuid, Field(description="The same as `msg_id` (concatenated SMS parts are joined).")
    ]
    channel: Channel
    recipient: Annotated[
        str, Field(description="Our side: the number, bot or sender id that was written to.")
    ]
    time: Annotated[Instant, Field(description="When the provider says it was sent (UTC).")]
    text: Annotated[str, Field(description="The text (a button's or postback's label).")]
    sender: Annotated[str, Field(description="Who wrote: E.164 when it is a number.")]
    connector: Annotated[str, Field(description="Extension: the connector it came through.")]
    content: Annotated[
        dict[str, Any] | None,
        Field(
            description="Extension: what the text cannot carry (media, a button reply's "
            "payload, an RCS postback), or null."
        ),
    ]
    opt_out: Annotated[
        Literal["out", "in"] | None,
        OneOf((*OPT_OUT_MARKS, None)),
        Field(description="Extension: `out` for an opt-out keyword (STOP), `in` for START."),
    ]
