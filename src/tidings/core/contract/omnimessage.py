"""The request bodies: `Omnimessage` (POST /v1/omnimessage) and `BulkOmnimessage`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from annotated_types import Len
from pydantic import Discriminator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from tidings.core.contract.channels import SMS, Telegram
from tidings.core.contract.lifecycle import BatchTag
from tidings.core.contract.problems import raise_at
from tidings.core.contract.rcs import RCS
from tidings.core.contract.rules import Wire
from tidings.core.contract.types import (
    DEFAULTS,
    QuietHoursText,
    Recipient,
    TimeToSend,
    UpToLimit,
    Url,
)
from tidings.core.contract.viber import Viber
from tidings.core.contract.whatsapp import WhatsApp
from tidings.core.model import CHANNELS

# More than there are channels, since none may repeat; the cap only bounds the work on bad input.
MAX_CHANNEL_MESSAGES = 10
REF_TEMPLATE = "#/components/schemas/{model}"

ChannelObject = Annotated[SMS | Viber | WhatsApp | RCS | Telegram, Discriminator("channel")]


@dataclass(frozen=True)
class UniqueChannels:
    """No channel twice in `messages`: 105 on each repeat's `channel`."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        problems = []
        for i, item in enumerate(items):
            if item.channel in seen:
                detail = (
                    f"channel {item.channel} appears more than once in messages; "
                    "each channel may be used once"
                )
                problems.append(((i, "channel"), "invalid", detail))
            seen.add(item.channel)
        if problems:
            raise_at("messages", problems, items)  # type: ignore[arg-type]
        return items

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["allOf"] = [
            {
                "contains": {"required": ["channel"], "properties": {"channel": {"const": c}}},
                "minContains": 0,
                "maxContains": 1,
            }
            for c in CHANNELS
        ]
        return out


class Omnimessage(Wire):
    """One message to one recipient over an ordered chain of channels. Unknown fields are
    ignored; `null` in an optional field means absent. Every problem found is reported at once,
    each naming its field in `source`."""

    to: Recipient = Field(
        description="Recipient phone number in international format: `+` and digits, or digits "
        "starting with the country code (no spaces, punctuation, `0` or `00` prefix). Stored and "
        "echoed in E.164 with a leading `+`.",
        examples=["+37251234567"],
    )
    messages: Annotated[list[ChannelObject], Len(1, MAX_CHANNEL_MESSAGES), UniqueChannels()] = (
        Field(
            description="The fallback chain: channel messages tried in this order until one is "
            f"delivered. Each channel ({', '.join(f'`{c}`' for c in CHANNELS)}) at most once; "
            "`channel` is required in every item."
        )
    )
    time_to_send: TimeToSend | None = Field(
        None,
        description="When to send, ISO 8601: `YYYY-MM-DDTHH:MM`, optionally `:SS`, optionally "
        "`.` and 1-9 fractional digits, optionally `Z` or an offset `+HH:MM` (or `+HHMM`). "
        "**No offset means UTC**: `2019-06-22T09:05` is 09:05 UTC; `2019-06-22T09:05:07+04:00` "
        "is 05:05:07 UTC. A time now or in the past sends at once. At most "
        f"{DEFAULTS.max_schedule_ahead_s // 86400} days ahead (server setting), otherwise 400 "
        "with source `time_to_send`. A date without a time is rejected. Absent: send now. A "
        "scheduled message can be cancelled until it starts sending.",
        examples=["2030-06-22T09:05:00"],
    )
    dlr_url: Url | None = Field(
        None,
        description="Where a delivery report (`DeliveryReportWebhook`) is POSTed on every status "
        "change of every channel message.",
    )
    text_store: Literal["plaintext", "sha256", "nostore"] | None = Field(
        None,
        description="How message content is kept (default `plaintext`): `plaintext` keeps it; "
        "`sha256` replaces it with its SHA-256 once the message is final; `nostore` erases it "
        "once final. Content of a scheduled message is kept until it has been sent.",
    )
    priority: Literal["low", "regular", "high"] | None = Field(
        None,
        description="When more messages are due than can be sent at once, `high` goes before "
        "`regular` (the default) before `low`.",
    )

    quiet_hours: QuietHoursText | None = Field(
        None,
        description="**Extension (Tidings).** A daily window of the recipient's local time, "
        "`HH:MM-HH:MM` (`21:00-08:00` spans midnight), in which this message is not sent: due "
        "inside it, it is held to the window's end, in the time zone of the number (from "
        "libphonenumber's data; for a number spanning several zones, the zone whose window ends "
        "last; a number without zone data is not held). Absent: the account's quiet hours, if "
        "any. `null`: no quiet hours for this message, whatever the account's.",
        examples=["21:00-08:00"],
    )
    batch: BatchTag | None = Field(
        None,
        description="**Tidings extension.** A tag grouping messages into a batch (a campaign): "
        "`POST /v1/batches/{tag}/pause`, `/resume` and `/cancel` act on every still-waiting "
        "message of the tag at once, `GET /v1/batches/{tag}` counts them by state. Ignored by "
        "Messente itself.",
        examples=["spring-sale"],
    )

    __examples__ = (
        {
            "to": "+37251234567",
            "messages": [
                {"channel": "whatsapp", "text": {"body": "Your table is ready"}},
                {"channel": "sms", "sender": "Cafe", "text": "Your table is ready"},
            ],
            "time_to_send": "2030-06-22T09:05:00",
        },
    )


class _ValidatedApart:
    """Bulk items are validated one by one (each gets its own result); the schema names them."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.any_schema()

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"$ref": REF_TEMPLATE.format(model=Omnimessage.__name__)}


class BulkOmnimessage(Wire):
    """Many omnimessages in one request."""

    messages: Annotated[
        list[Annotated[Any, _ValidatedApart()]],
        Len(1),
        UpToLimit("max_bulk", detail="must have at most {top} entries ({size} given)"),
    ] = Field(
        description=f"At most {DEFAULTS.max_bulk} omnimessages (server setting). Each is "
        "validated on its own: an invalid one gets an error item in the response and does not "
        "stop the others."
    )
