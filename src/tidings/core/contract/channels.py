"""The channel objects of `messages` (DESIGN.md section 1, reference sections 2 and 8): the
envelope every one has, SMS and Telegram; Viber, WhatsApp and RCS have modules of their own.

Required fields and enums follow the official client models (messente-api 2.5.x for Telegram,
2.7.0 for the rest). Where upstream documents no limit, the caps are ours: generous enough for any
real message, small enough to bound storage and work.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from annotated_types import Ge, Len
from pydantic import Field

from tidings.core.contract.rules import AtLeastOne, AtMostOne, NotBoth, Rule, Wire
from tidings.core.contract.types import (
    DEFAULTS,
    Checked,
    Refused,
    Sender,
    UpToLimit,
    Url,
    matches,
)

SMS_TEXT_MAX = 1600  # characters (code points); ours: ~10 GSM-7 or ~24 UCS-2 segments
SMS_UDH_HEX_MAX = 280  # hex digits = 140 bytes, one whole SMS payload
TELEGRAM_TEXT_MAX = 4096  # Telegram Bot API message limit


ENVELOPE_KEYS = frozenset({"channel", "sender", "validity", "ttl"})

_VALIDITY_TOO_LONG = "is too long: at most {minutes} minutes ({seconds} seconds)"
_MAX_VALIDITY_MIN = DEFAULTS.max_validity_s // 60
_DEFAULT_VALIDITY_MIN = DEFAULTS.default_validity_s // 60


# -- the envelope every channel object has ------------------------------------------------------


class ChannelMessage(Wire):
    """Fields shared by every channel object; `channel` selects the subclass."""

    __rules__: ClassVar[tuple[Rule, ...]] = (
        NotBoth("validity", "ttl", "give either validity (minutes) or ttl (seconds), not both"),
    )

    channel: str  # each subclass narrows it to its own name, the union's tag
    sender: Sender | None = Field(
        None,
        description="Sender identity: a name of 1-11 ASCII letters, digits and spaces with at "
        "least one letter, or a number of up to 15 digits with an optional leading `+`. When "
        "absent, the account's default sender is used and echoed in the send response.",
        examples=["Tidings"],
    )
    validity: Annotated[int, Ge(1), UpToLimit("max_validity_s", 60, _VALIDITY_TOO_LONG)] | None = (
        Field(
            None,
            description="How long this channel may try to deliver, in **minutes**, before the "
            "next channel of `messages` is tried. Give `validity` or `ttl`, never both (400). "
            f"Default when neither is given: {_DEFAULT_VALIDITY_MIN} minutes; maximum "
            f"{_MAX_VALIDITY_MIN} minutes (7 days). Both are server settings.",
        )
    )
    ttl: Annotated[int, Ge(1), UpToLimit("max_validity_s", 1, _VALIDITY_TOO_LONG)] | None = Field(
        None,
        description="Like `validity`, in **seconds**. Give `validity` or `ttl`, never both (400). "
        f"Maximum {DEFAULTS.max_validity_s} seconds (7 days).",
    )


# -- sms -----------------------------------------------------------------------------------------

_AUTOCONVERT = {"on": "on", "full": "full", "off": "off", "true": "on", "false": "off"}


class SMS(ChannelMessage):
    """An SMS. Long texts are sent as a multipart message."""

    channel: Literal["sms"]
    text: Annotated[str, Len(1, SMS_TEXT_MAX)] = Field(
        description=f"Message text, any Unicode; at most {SMS_TEXT_MAX} characters."
    )
    autoconvert: (
        Annotated[Literal["on", "full", "off", "true", "false"], Checked(_AUTOCONVERT.__getitem__)]
        | None
    ) = Field(
        None,
        description="Character conversion: `on` (default) applies the account's replacement "
        "rules, `full` replaces every non-GSM-7 character, `off` sends the text as is. "
        '`"true"` (= `on`) and `"false"` (= `off`) are accepted too, as messente-api 2.7.0 '
        "sends them.",
    )
    udh: (
        Annotated[
            str,
            Len(1, SMS_UDH_HEX_MAX),
            matches(r"(?:[0-9A-Fa-f]{2})+", "must be hexadecimal with an even number of digits"),
        ]
        | None
    ) = Field(None, description="User Data Header, hexadecimal with an even number of digits.")


# -- telegram ------------------------------------------------------------------------------------

TELEGRAM_MEDIA = ("image_url", "document_url", "audio_url")


class Telegram(ChannelMessage):
    """A Telegram message (messente-api 2.5.x and earlier). Takes `validity` only."""

    __rules__ = (
        *ChannelMessage.__rules__,
        AtMostOne(TELEGRAM_MEDIA, "a telegram message"),
        AtLeastOne(
            ("text", *TELEGRAM_MEDIA),
            "a telegram message needs text, or one of " + ", ".join(TELEGRAM_MEDIA),
            at="text",
        ),
    )

    channel: Literal["telegram"]
    ttl: Annotated[None, Refused("telegram takes validity (minutes) only, not ttl")] = None
    text: Annotated[str, Len(1, TELEGRAM_TEXT_MAX)] | None = Field(
        None, description=f"At most {TELEGRAM_TEXT_MAX} characters."
    )
    image_url: Url | None = Field(None, description="An image.")
    document_url: Url | None = Field(None, description="A document.")
    audio_url: Url | None = Field(None, description="An audio file.")
