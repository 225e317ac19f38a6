"""The OpenAPI 3.1 document of the contract the server really implements, and an offline HTML view.

`openapi_document()` is served at ``/openapi.json`` and `docs_html()` renders it at ``/docs``.
Limits and enums are taken from the validation code itself (`tidings.core`), so the document
cannot drift from what a request is checked against; the decisions of DESIGN.md section 2 are
spelled out in the descriptions.

Schemas are built with the small helpers below (`_string`, `_integer`, `_object`, ...), one
function per group of schemas, and assembled in `openapi_document()`.
"""

from __future__ import annotations

import functools
import html
import json
import re
from typing import Any

from tidings.api.context import ApiSettings
from tidings.core import validation_channels as vc
from tidings.core._fields import DEFAULT_MAX_LEN, MAX_ERRORS, URL_MAX_LEN
from tidings.core.errors import (
    FORBIDDEN,
    INTERNAL,
    INVALID,
    METHOD_NOT_ALLOWED,
    MISSING,
    NOT_FOUND,
    UNAUTHORIZED,
)
from tidings.core.model import CHANNELS, ERR_TEXT, PRIORITIES, STATUSES, TEXT_STORES, Limits
from tidings.core.validation import TO_MAX_LEN
from tidings.core.validation_sender import SENDER_ALNUM_MAX, SENDER_DIGITS_MAX

__all__ = ["docs_html", "openapi_document"]

Schema = dict[str, Any]

TITLE = "Tidings — Messente Omnichannel API v1 compatible"
ERROR_PAIRS = (NOT_FOUND, FORBIDDEN, UNAUTHORIZED, INTERNAL, INVALID, MISSING, METHOD_NOT_ALLOWED)
SANDBOX_LIMIT_MAX = 1000
SANDBOX_LIMIT_DEFAULT = 100

_LIMITS = Limits()
_API = ApiSettings()
_MAX_VALIDITY_MIN = _LIMITS.max_validity_s // 60
_DEFAULT_VALIDITY_MIN = _LIMITS.default_validity_s // 60
_MAX_AHEAD_DAYS = _LIMITS.max_schedule_ahead_s // 86400

# The forms `time_to_send` accepts (tidings.core.timeparse), as an ECMA-262 pattern.
TIME_TO_SEND_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}"
    r"(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
SENDER_PATTERN = (
    rf"^(?=.*[A-Za-z])[A-Za-z0-9 ]{{1,{SENDER_ALNUM_MAX}}}$"
    rf"|^\+?[0-9]{{1,{SENDER_DIGITS_MAX}}}$"
)


# -- schema helpers ------------------------------------------------------------------------------


def _ref(name: str, description: str | None = None) -> Schema:
    out: Schema = {"$ref": f"#/components/schemas/{name}"}
    if description:
        out["description"] = description
    return out


def _nullable(kind: str, nullable: bool) -> str | list[str]:
    return [kind, "null"] if nullable else kind


def _string(
    description: str | None = None,
    *,
    min_len: int | None = None,
    max_len: int | None = DEFAULT_MAX_LEN,
    enum: tuple[str, ...] | list[str] | None = None,
    fmt: str | None = None,
    pattern: str | None = None,
    default: str | None = None,
    nullable: bool = False,
    example: str | None = None,
) -> Schema:
    """A string schema. `max_len` defaults to the cap on free strings; enums carry no length."""
    out: Schema = {"type": _nullable("string", nullable)}
    if enum is not None:
        out["enum"] = [*enum, None] if nullable else list(enum)
    else:
        if min_len is not None:
            out["minLength"] = min_len
        if max_len is not None:
            out["maxLength"] = max_len
    if fmt:
        out["format"] = fmt
    if pattern:
        out["pattern"] = pattern
    if default is not None:
        out["default"] = default
    if description:
        out["description"] = description
    if example is not None:
        out["examples"] = [example]
    return out


def _text(description: str, max_len: int, *, min_len: int = 1) -> Schema:
    """Free text as the validator reads it: non-empty, at most `max_len` characters."""
    return _string(description, min_len=min_len, max_len=max_len)


def _url(description: str, *, web: bool = True, max_len: int = URL_MAX_LEN) -> Schema:
    kind = (
        "An absolute http or https URL with a host."
        if web
        else "An absolute URI with any scheme (https:, tel:, viber:, ...)."
    )
    return _string(f"{description} {kind}", min_len=1, max_len=max_len, fmt="uri")


def _uuid(description: str) -> Schema:
    return _string(description, max_len=None, fmt="uuid")


def _integer(
    description: str | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    enum: list[int] | None = None,
    nullable: bool = False,
) -> Schema:
    out: Schema = {"type": _nullable("integer", nullable)}
    if enum is not None:
        out["enum"] = [*enum, None] if nullable else enum
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    if description:
        out["description"] = description
    return out


def _number(description: str, minimum: float, maximum: float) -> Schema:
    return {"type": "number", "minimum": minimum, "maximum": maximum, "description": description}


def _boolean(description: str, default: bool | None = None) -> Schema:
    out: Schema = {"type": "boolean", "description": description}
    if default is not None:
        out["default"] = default
    return out


def _array(
    items: Schema,
    description: str | None = None,
    *,
    min_items: int | None = None,
    max_items: int | None = None,
) -> Schema:
    out: Schema = {"type": "array", "items": items}
    if min_items is not None:
        out["minItems"] = min_items
    if max_items is not None:
        out["maxItems"] = max_items
    if description:
        out["description"] = description
    return out


def _object(
    properties: dict[str, Schema],
    *,
    required: tuple[str, ...] = (),
    description: str | None = None,
    exactly_one_of: tuple[str, ...] = (),
    example: dict[str, Any] | None = None,
) -> Schema:
    """An object schema. Unknown properties are ignored by the server, so they stay allowed.

    `exactly_one_of` adds a `oneOf` of `required` lists: exactly one of these keys is present.
    """
    out: Schema = {"type": "object"}
    if description:
        out["description"] = description
    out["properties"] = properties
    if required:
        out["required"] = list(required)
    if exactly_one_of:
        out["oneOf"] = [{"required": [key]} for key in exactly_one_of]
    if example is not None:
        out["examples"] = [example]
    return out


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _response(description: str, schema: Schema | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = _json(schema)
    return out


def _response_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{name}"}


# -- the omnimessage (request) -------------------------------------------------------------------


def _sender(required: bool) -> Schema:
    rule = (
        f"An alphanumeric name of 1-{SENDER_ALNUM_MAX} characters (ASCII letters, digits and "
        f"spaces, at least one letter), or a number of up to {SENDER_DIGITS_MAX} digits with "
        "an optional leading `+`."
    )
    if required:  # rcs: the sender is the RBM agent id
        return _string(
            f"The RBM agent that sends. **Required for rcs.** Rule: {vc.RCS_AGENT_ID_RULE}.",
            max_len=vc.RCS_AGENT_ID_MAX,
            pattern=vc.RCS_AGENT_ID_PATTERN,
            example="my-agent",
        )
    text = (
        f"Sender identity. {rule} When absent, the account's default sender is used and "
        "echoed in the send response."
    )
    return _string(text, max_len=SENDER_DIGITS_MAX + 1, pattern=SENDER_PATTERN, example="Tidings")


def _validity() -> Schema:
    return _integer(
        "How long this channel may try to deliver, in **minutes**, before the next channel of "
        "`messages` is tried. Give `validity` or `ttl`, never both (400). Default when neither "
        f"is given: {_DEFAULT_VALIDITY_MIN} minutes; maximum {_MAX_VALIDITY_MIN} minutes (7 days). "
        "Both are server settings.",
        minimum=1,
        maximum=_MAX_VALIDITY_MIN,
    )


def _ttl() -> Schema:
    return _integer(
        "Like `validity`, in **seconds**. Give `validity` or `ttl`, never both (400). "
        f"Maximum {_LIMITS.max_validity_s} seconds (7 days).",
        minimum=1,
        maximum=_LIMITS.max_validity_s,
    )


def _channel_message(
    channel: str,
    description: str,
    content: dict[str, Schema],
    *,
    required: tuple[str, ...] = (),
    sender_required: bool = False,
    ttl: bool = True,
    exactly_one_of: tuple[str, ...] = (),
) -> Schema:
    """A channel object: the shared envelope (channel, sender, validity, ttl) plus its content."""
    envelope: dict[str, Schema] = {
        "channel": _string(
            f"Always `{channel}`; selects the channel schema.", enum=[channel], default=channel
        ),
        "sender": _sender(sender_required),
        "validity": _validity(),
    }
    if ttl:
        envelope["ttl"] = _ttl()
    req = ("channel", "sender", *required) if sender_required else ("channel", *required)
    out = _object(
        {**envelope, **content},
        required=req,
        description=description,
        exactly_one_of=exactly_one_of,
    )
    # validity and ttl are exclusive; a channel without ttl rejects it (unknown keys are ignored).
    out["not"] = {"required": ["validity", "ttl"]} if ttl else {"required": ["ttl"]}
    return out


def _omnimessage_schemas() -> dict[str, Schema]:
    channels = ", ".join(f"`{c}`" for c in CHANNELS)
    return {
        "Omnimessage": _object(
            {
                "to": _string(
                    "Recipient phone number in international format: `+` and digits, or "
                    "digits starting with the country code (no spaces, punctuation, `0` or "
                    "`00` prefix). Stored and echoed in E.164 with a leading `+`.",
                    min_len=1,
                    max_len=TO_MAX_LEN,
                    pattern=r"^\+?[0-9]+$",
                    example="+37251234567",
                ),
                "messages": _array(
                    {
                        "oneOf": [_ref(_CHANNEL_SCHEMA[c]) for c in CHANNELS],
                        "discriminator": {
                            "propertyName": "channel",
                            "mapping": {
                                c: f"#/components/schemas/{_CHANNEL_SCHEMA[c]}" for c in CHANNELS
                            },
                        },
                    },
                    "The fallback chain: channel messages tried in this order until one is "
                    f"delivered. Each channel ({channels}) at most once; `channel` is required "
                    "in every item.",
                    min_items=1,
                    max_items=len(CHANNELS),
                ),
                "time_to_send": _string(
                    "When to send, ISO 8601: `YYYY-MM-DDTHH:MM`, optionally `:SS`, optionally "
                    "`.` and 1-9 fractional digits, optionally `Z` or an offset `+HH:MM` "
                    "(or `+HHMM`). **No offset means UTC**: `2019-06-22T09:05` is 09:05 UTC; "
                    "`2019-06-22T09:05:07+04:00` is 05:05:07 UTC. A time now or in the past "
                    "sends at once. At most "
                    f"{_MAX_AHEAD_DAYS} days ahead (server setting), otherwise 400 with source "
                    "`time_to_send`. A date without a time is rejected. Absent: send now. "
                    "A scheduled message can be cancelled until it starts sending.",
                    max_len=None,
                    pattern=TIME_TO_SEND_PATTERN,
                    example="2030-06-22T09:05:00",
                ),
                "dlr_url": _url(
                    "Where a delivery report (`DeliveryReportWebhook`) is POSTed on every status "
                    "change of every channel message."
                ),
                "text_store": _string(
                    "How message content is kept: `plaintext` keeps it; `sha256` replaces it "
                    "with its SHA-256 once the message is final; `nostore` erases it once final. "
                    "Content of a scheduled message is kept until it has been sent.",
                    enum=TEXT_STORES,
                    default="plaintext",
                ),
                "priority": _string(
                    "When more messages are due than can be sent at once, `high` goes before "
                    "`regular` before `low`.",
                    enum=tuple(PRIORITIES),
                    default="regular",
                ),
            },
            required=("to", "messages"),
            description=(
                "One message to one recipient over an ordered chain of channels. Unknown "
                "fields are ignored; `null` in an optional field means absent. Every problem "
                f"found is reported at once (up to {MAX_ERRORS} error items), each naming its "
                "field in `source`."
            ),
            example={
                "to": "+37251234567",
                "messages": [
                    {"channel": "whatsapp", "text": {"body": "Your table is ready"}},
                    {"channel": "sms", "sender": "Cafe", "text": "Your table is ready"},
                ],
                "time_to_send": "2030-06-22T09:05:00",
            },
        ),
        "BulkOmnimessage": _object(
            {
                "messages": _array(
                    _ref("Omnimessage"),
                    f"At most {_LIMITS.max_bulk} omnimessages (server setting). Each is "
                    "validated on its own: an invalid one gets an error item in the response "
                    "and does not stop the others.",
                    min_items=1,
                    max_items=_LIMITS.max_bulk,
                )
            },
            required=("messages",),
            description="Many omnimessages in one request.",
        ),
    }


_CHANNEL_SCHEMA = {
    "sms": "SMS",
    "viber": "Viber",
    "whatsapp": "WhatsApp",
    "rcs": "RCS",
    "telegram": "Telegram",
}


# -- channel objects -----------------------------------------------------------------------------


def _sms_schemas() -> dict[str, Schema]:
    return {
        "SMS": _channel_message(
            "sms",
            "An SMS. Long texts are sent as a multipart message.",
            {
                "text": _text(
                    f"Message text, any Unicode; at most {vc.SMS_TEXT_MAX} characters.",
                    vc.SMS_TEXT_MAX,
                ),
                "autoconvert": _string(
                    "Character conversion: `on` (default) applies the account's replacement "
                    "rules, `full` replaces every non-GSM-7 character, `off` sends the text as "
                    'is. `"true"` (= `on`) and `"false"` (= `off`) are accepted too, as '
                    "messente-api 2.7.0 sends them.",
                    enum=("on", "full", "off", "true", "false"),
                    default="on",
                ),
                "udh": _string(
                    "User Data Header, hexadecimal with an even number of digits.",
                    min_len=2,
                    max_len=vc.SMS_UDH_HEX_MAX,
                    pattern=r"^([0-9A-Fa-f]{2})+$",
                ),
            },
            required=("text",),
        )
    }


def _viber_schemas() -> dict[str, Schema]:
    shapes = "; ".join(f"`{s}`" for s in vc.VIBER_SHAPE_NAMES)
    button = _object(
        {
            "label": _text("Button caption.", vc.VIBER_BUTTON_TEXT_MAX),
            "action_url": _url("Opened when the button is pressed.", web=False),
        },
        required=("label", "action_url"),
        description="A carousel item button.",
    )
    return {
        "Viber": _channel_message(
            "viber",
            "A Viber business message. Valid combinations of content fields: "
            f"{shapes}. Any other combination is 400.",
            {
                "text": _text(
                    f"Message text, at most {vc.VIBER_TEXT_MAX} characters.", vc.VIBER_TEXT_MAX
                ),
                "image_url": _url("Image to show."),
                "button_text": _text(
                    "Button caption (with `button_url`).", vc.VIBER_BUTTON_TEXT_MAX
                ),
                "button_url": _url("Opened by the button.", web=False),
                "video": _ref("ViberVideo"),
                "template": _ref("ViberTemplate"),
                "carousel": _ref("ViberCarousel"),
            },
        ),
        "ViberVideo": _object(
            {
                "url": _url("The video file."),
                "thumbnail": _url("Thumbnail image."),
                "file_size": _integer(
                    "Size in bytes, at most 200 MB.", minimum=1, maximum=vc.VIBER_VIDEO_MAX_BYTES
                ),
                "duration": _integer(
                    "Length in seconds.", minimum=1, maximum=vc.VIBER_VIDEO_MAX_SECONDS
                ),
            },
            required=("url", "thumbnail", "file_size", "duration"),
            description="A Viber video.",
        ),
        "ViberTemplate": _object(
            {
                "id": _text("Template id.", vc.VIBER_TEMPLATE_ID_MAX),
                "lang": _text("Language code, e.g. `en`.", vc.LANGUAGE_CODE_MAX),
                "params": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "maxProperties": 100,
                    "description": "Template parameters: name → string value.",
                },
            },
            required=("id", "lang"),
            description="A pre-approved Viber template (messente-api 2.6.0+).",
        ),
        "ViberCarousel": _object(
            {
                "items": _array(
                    _ref("ViberCarouselItem"),
                    min_items=vc.CAROUSEL_ITEMS_MIN,
                    max_items=vc.CAROUSEL_ITEMS_MAX,
                )
            },
            required=("items",),
            description="A Viber carousel (messente-api 2.6.0+).",
        ),
        "ViberCarouselItem": _object(
            {
                "title": _text("Item title.", vc.CAROUSEL_TITLE_MAX, min_len=vc.CAROUSEL_TITLE_MIN),
                "image_url": _url("Item image."),
                "primary_button": _ref("ViberCarouselButton"),
                "secondary_button": _ref("ViberCarouselButton"),
            },
            required=("title", "image_url", "primary_button"),
            description="One card of a Viber carousel.",
        ),
        "ViberCarouselButton": button,
    }


_WA_MEDIA_DESCRIPTION = {
    "image": "An image message.",
    "video": "A video message.",
    "audio": "An audio message.",
    "document": "A document message.",
    "sticker": "A sticker message.",
}


_WA_MEDIA_FIELDS = {
    "image": ("caption", "mime_type"),
    "video": ("caption", "mime_type"),
    "audio": ("mime_type",),
    "document": ("caption", "mime_type", "file_name"),
    "sticker": ("mime_type",),
}
_WA_MEDIA_FIELD_TEXT = {
    "caption": ("Caption.", vc.WHATSAPP_CAPTION_MAX),
    "mime_type": ("MIME type, e.g. `image/jpeg`.", vc.SHORT_MAX),
    "file_name": ("File name shown to the recipient.", vc.SHORT_MAX),
}


def _whatsapp_media(kind: str) -> Schema:
    fields = {
        "id": _string("Media id from an earlier upload.", min_len=1, max_len=vc.SHORT_MAX),
        "link": _url("Public link to the media."),
    }
    for key in _WA_MEDIA_FIELDS[kind]:
        text, limit = _WA_MEDIA_FIELD_TEXT[key]
        fields[key] = _text(text, limit)
    if kind == "sticker":
        fields["animated"] = _boolean("Whether the sticker is animated.")
    return _object(
        fields,
        description=f"{_WA_MEDIA_DESCRIPTION[kind]} Exactly one of `id` or `link`.",
        exactly_one_of=("id", "link"),
    )


def _whatsapp_schemas() -> dict[str, Schema]:
    content = ", ".join(f"`{k}`" for k in vc.WHATSAPP_CONTENT)
    return {
        "WhatsApp": _channel_message(
            "whatsapp",
            f"A WhatsApp message with exactly one of {content}.",
            {
                "text": _ref("WhatsAppText"),
                "template": _ref("WhatsAppTemplate"),
                "image": _ref("WhatsAppImage"),
                "video": _ref("WhatsAppVideo"),
                "audio": _ref("WhatsAppAudio"),
                "document": _ref("WhatsAppDocument"),
                "sticker": _ref("WhatsAppSticker"),
            },
            exactly_one_of=vc.WHATSAPP_CONTENT,
        ),
        "WhatsAppText": _object(
            {
                "body": _text(
                    "Message text; may contain URLs, emojis and formatting.", vc.WHATSAPP_BODY_MAX
                ),
                "preview_url": _boolean("Show a preview of the first URL.", default=True),
            },
            required=("body",),
            description="A free-form text message.",
        ),
        "WhatsAppImage": _whatsapp_media("image"),
        "WhatsAppVideo": _whatsapp_media("video"),
        "WhatsAppAudio": _whatsapp_media("audio"),
        "WhatsAppDocument": _whatsapp_media("document"),
        "WhatsAppSticker": _whatsapp_media("sticker"),
        "WhatsAppTemplate": _object(
            {
                "name": _text("Template name.", vc.WHATSAPP_TEMPLATE_NAME_MAX),
                "language": _ref("WhatsAppLanguage"),
                "components": _array(
                    _ref("WhatsAppComponent"), max_items=vc.WHATSAPP_COMPONENTS_MAX
                ),
            },
            required=("name", "language", "components"),
            description="A pre-approved WhatsApp template.",
        ),
        "WhatsAppLanguage": _object(
            {
                "code": _text("Language code, e.g. `en` or `pt_BR`.", vc.LANGUAGE_CODE_MAX),
                "policy": _text("Language policy, e.g. `deterministic`.", vc.SHORT_MAX),
            },
            required=("code",),
            description="Template language.",
        ),
        "WhatsAppComponent": _object(
            {
                "type": _text("Component type, e.g. `header`, `body`, `button`.", vc.SHORT_MAX),
                "sub_type": _text("Button sub-type, e.g. `quick_reply`, `url`.", vc.SHORT_MAX),
                "index": _integer("Position of the button (for buttons).", minimum=0),
                "parameters": _array(
                    _ref("WhatsAppParameter"), max_items=vc.WHATSAPP_PARAMETERS_MAX
                ),
            },
            required=("type",),
            description="One component of a template with its parameters.",
        ),
        "WhatsAppParameter": _object(
            {
                "type": _string(
                    "Parameter type; the property of that name must be present.",
                    enum=vc.WHATSAPP_PARAMETER_TYPES,
                ),
                "text": _text("Text value.", DEFAULT_MAX_LEN),
                "currency": _ref("WhatsAppCurrency"),
                "date_time": _ref("WhatsAppDatetime"),
                "image": _ref("WhatsAppParameterMedia"),
                "document": _ref("WhatsAppParameterMedia"),
                "video": _ref("WhatsAppParameterMedia"),
                "coupon_code": _text("Coupon code.", DEFAULT_MAX_LEN),
                "payload": _text("Quick-reply button payload.", DEFAULT_MAX_LEN),
            },
            required=("type",),
            description="A template parameter.",
        ),
        "WhatsAppCurrency": _object(
            {
                "fallback_value": _text("Shown where localisation fails.", DEFAULT_MAX_LEN),
                "code": _string("ISO 4217 code.", max_len=None, pattern="^[A-Z]{3}$"),
                "amount_1000": {
                    "type": ["integer", "string"],
                    "pattern": "^-?[0-9]{1,18}$",
                    "description": "The amount times 1000, as an integer or a string of digits.",
                },
            },
            required=("fallback_value", "code", "amount_1000"),
            description="A currency parameter.",
        ),
        "WhatsAppDatetime": _object(
            {"fallback_value": _text("The date and time as text.", DEFAULT_MAX_LEN)},
            required=("fallback_value",),
            description="A date-time parameter.",
        ),
        "WhatsAppParameterMedia": _object(
            {
                "id": _string("Media id.", min_len=1, max_len=vc.SHORT_MAX),
                "link": _url("Public link to the media."),
                "caption": _text("Caption.", vc.WHATSAPP_CAPTION_MAX),
                "filename": _text("File name (documents).", vc.SHORT_MAX),
            },
            description="Media in a template parameter. Exactly one of `id` or `link`.",
            exactly_one_of=("id", "link"),
        ),
    }


def _rcs_schemas() -> dict[str, Schema]:
    actions = ", ".join(f"`{a}`" for a in vc.RCS_ACTIONS)
    return {
        "RCS": _channel_message(
            "rcs",
            "An RCS Business Messaging message (messente-api 2.6.0+). `sender` is required. "
            "Exactly one of `text`, `rich_card`, `content_info`, plus optional suggestion chips.",
            {
                "text": _text(f"At most {vc.RCS_TEXT_MAX} characters.", vc.RCS_TEXT_MAX),
                "rich_card": _ref("RcsRichCard"),
                "content_info": _ref("RcsContentInfo"),
                "suggestions": _array(
                    _ref("RcsSuggestion"),
                    "Suggested replies and actions.",
                    max_items=vc.RCS_SUGGESTIONS_MAX,
                ),
            },
            sender_required=True,
            exactly_one_of=("text", "rich_card", "content_info"),
        ),
        "RcsRichCard": _object(
            {
                "standalone_card": _ref("RcsStandaloneCard"),
                "carousel_card": _ref("RcsCarouselCard"),
            },
            description="Exactly one of `standalone_card` or `carousel_card`.",
            exactly_one_of=("standalone_card", "carousel_card"),
        ),
        "RcsStandaloneCard": _object(
            {
                "card_orientation": _string("Layout.", enum=("VERTICAL", "HORIZONTAL")),
                "thumbnail_image_alignment": _string(
                    "Image side for horizontal cards.", enum=("LEFT", "RIGHT")
                ),
                "card_content": _ref("RcsCardContent"),
            },
            required=("card_orientation", "thumbnail_image_alignment", "card_content"),
            description="A single rich card.",
        ),
        "RcsCarouselCard": _object(
            {
                "card_width": _string("Card width.", enum=("SMALL", "MEDIUM")),
                "card_contents": _array(
                    _ref("RcsCardContent"),
                    min_items=vc.RCS_CAROUSEL_MIN,
                    max_items=vc.RCS_CAROUSEL_MAX,
                ),
            },
            required=("card_width", "card_contents"),
            description="A carousel of rich cards.",
        ),
        "RcsCardContent": _object(
            {
                "title": _text("Card title.", vc.RCS_CARD_TITLE_MAX),
                "description": _text("Card text.", vc.RCS_CARD_DESCRIPTION_MAX),
                "media": _ref("RcsMedia"),
                "suggestions": _array(_ref("RcsSuggestion"), max_items=vc.RCS_CARD_SUGGESTIONS_MAX),
            },
            description="A card's content: at least one of `title`, `description`, `media`.",
        ),
        "RcsMedia": _object(
            {
                "height": _string("Media height.", enum=("SHORT", "MEDIUM", "TALL")),
                "content_info": _ref("RcsContentInfo"),
            },
            required=("height", "content_info"),
            description="Media of a card.",
        ),
        "RcsContentInfo": _object(
            {
                "file_url": _url("The file."),
                "thumbnail_url": _url("Its thumbnail."),
                "force_refresh": _boolean("Fetch the file again instead of using a cached copy."),
            },
            required=("file_url", "force_refresh"),
            description="A file to send.",
        ),
        "RcsSuggestion": _object(
            {"reply": _ref("RcsSuggestedReply"), "action": _ref("RcsSuggestedAction")},
            description="A chip: exactly one of `reply` or `action`.",
            exactly_one_of=("reply", "action"),
        ),
        "RcsSuggestedReply": _object(
            {
                "text": _text("Chip text.", vc.RCS_CHIP_TEXT_MAX),
                "postback_data": _text("Sent back when tapped.", vc.RCS_POSTBACK_MAX),
            },
            required=("text", "postback_data"),
            description="A suggested reply.",
        ),
        "RcsSuggestedAction": _object(
            {
                "text": _text("Chip text.", vc.RCS_CHIP_TEXT_MAX),
                "postback_data": _text("Sent back when tapped.", vc.RCS_POSTBACK_MAX),
                "fallback_url": _url("Opened where the action is unsupported.", web=False),
                "dial_action": _ref("RcsDialAction"),
                "view_location_action": _ref("RcsViewLocationAction"),
                "create_calendar_event_action": _ref("RcsCreateCalendarEventAction"),
                "open_url_action": _ref("RcsOpenUrlAction"),
                "share_location_action": _ref("RcsShareLocationAction"),
            },
            required=("text", "postback_data"),
            description=f"A suggested action with exactly one of {actions}.",
            exactly_one_of=vc.RCS_ACTIONS,
        ),
        "RcsDialAction": _object(
            {
                "phone_number": _string(
                    "Number to call, international format.", max_len=vc.SHORT_MAX
                )
            },
            required=("phone_number",),
            description="Open the dialler.",
        ),
        "RcsViewLocationAction": _object(
            {
                "lat_long": _ref("RcsLatLong"),
                "query": _text("A search query for the map.", DEFAULT_MAX_LEN),
                "label": _text("Pin label.", DEFAULT_MAX_LEN),
            },
            description="Show a location: exactly one of `lat_long` or `query`.",
            exactly_one_of=("lat_long", "query"),
        ),
        "RcsLatLong": _object(
            {
                "latitude": _number("Degrees.", -90, 90),
                "longitude": _number("Degrees.", -180, 180),
            },
            required=("latitude", "longitude"),
            description="Coordinates.",
        ),
        "RcsCreateCalendarEventAction": _object(
            {
                "start_time": _string(
                    "Start, in the `time_to_send` format.",
                    max_len=vc.SHORT_MAX,
                    pattern=TIME_TO_SEND_PATTERN,
                ),
                "end_time": _string(
                    "End, not before `start_time`.",
                    max_len=vc.SHORT_MAX,
                    pattern=TIME_TO_SEND_PATTERN,
                ),
                "title": _text("Event title.", vc.RCS_EVENT_TITLE_MAX),
                "description": _text("Event description.", vc.RCS_EVENT_DESCRIPTION_MAX),
            },
            required=("start_time", "end_time", "title", "description"),
            description="Add an event to the calendar.",
        ),
        "RcsOpenUrlAction": _object(
            {
                "url": _url("The URL.", web=False),
                "description": _text("Accessibility description.", DEFAULT_MAX_LEN),
                "application": _string("Where to open it.", enum=("BROWSER", "WEBVIEW")),
                "webview_view_mode": _string("Webview size.", enum=("FULL", "HALF", "TALL")),
            },
            required=("url", "application"),
            description="Open a URL.",
        ),
        "RcsShareLocationAction": _object(
            {}, description="Ask the user to share their location (an empty object)."
        ),
    }


def _telegram_schemas() -> dict[str, Schema]:
    return {
        "Telegram": _channel_message(
            "telegram",
            "A Telegram message (messente-api 2.5.x and earlier): `text`, and at most one of "
            "`image_url`, `document_url`, `audio_url`; at least one of these four. Takes "
            "`validity` only: `ttl` is 400.",
            {
                "text": _text(f"At most {vc.TELEGRAM_TEXT_MAX} characters.", vc.TELEGRAM_TEXT_MAX),
                "image_url": _url("An image."),
                "document_url": _url("A document."),
                "audio_url": _url("An audio file."),
            },
            ttl=False,
        )
    }


# -- responses -----------------------------------------------------------------------------------


def _channel_enum(description: str, *, nullable: bool = False) -> Schema:
    return _string(
        f"{description} Only a channel that the request itself used is ever named here, so "
        "clients that know `telegram` but not `rcs` (messente-api ≤ 2.5.2), and the reverse "
        "(2.6.0+), each read back only what they sent.",
        enum=CHANNELS,
        nullable=nullable,
    )


def _result_schemas() -> dict[str, Schema]:
    err_text = "; ".join(f"{k} {v or 'no error'}" for k, v in ERR_TEXT.items())
    return {
        "MessageResult": _object(
            {
                "message_id": _uuid("Id of this channel message."),
                "channel": _channel_enum("The channel."),
                "sender": _string(
                    "The sender used: the one requested, or the account default. Never null.",
                    max_len=None,
                ),
            },
            required=("message_id", "channel", "sender"),
            description="One channel message of an accepted omnimessage.",
        ),
        "OmniMessageCreateSuccessResponse": _object(
            {
                "messages": _array(_ref("MessageResult"), "One entry per channel, in order."),
                "to": _string("The recipient in E.164.", max_len=None),
                "omnimessage_id": _uuid("Id for status and cancel."),
            },
            required=("messages", "to", "omnimessage_id"),
            description="The omnimessage was accepted and committed to disk.",
        ),
        "BulkOmniMessageCreateSuccessResponse": _object(
            {
                "messages": _array(
                    {
                        "oneOf": [
                            _ref("OmniMessageCreateSuccessResponse"),
                            _ref("ErrorOmnichannel"),
                        ]
                    },
                    "One item per requested omnimessage, in order: a success object, or an "
                    "error object whose `source` values are prefixed `messages[i].`.",
                )
            },
            required=("messages",),
            description="Per-item results of a bulk send (201 even when some items failed).",
        ),
        "EmptyObject": {
            "type": "object",
            "maxProperties": 0,
            "description": "An empty JSON object, `{}`.",
        },
        "DeliveryReportResponse": _object(
            {
                "omnimessage_id": _uuid("The omnimessage."),
                "to": _string("The recipient in E.164.", max_len=None),
                "statuses": _array(
                    _ref("DeliveryResult"),
                    "One entry per channel message, in send order. A scheduled message has one "
                    "entry per channel with `status: null`; after cancel each entry has "
                    '`status: "DELETED"`.',
                ),
            },
            required=("omnimessage_id", "to", "statuses"),
            description="Current delivery state of an omnimessage.",
        ),
        "DeliveryResult": _object(
            {
                "status": _string(
                    "Latest status of this channel message; null while pending. ACK operator "
                    "accepted; DELIVRD delivered; UNDELIV not delivered; FAILED failed; UNKNOWN "
                    "unknown; ACCEPTD queued at the operator; REJECTD rejected; DELETED "
                    "cancelled before sending; EXPIRED validity ran out; NACK refused; SEEN seen "
                    "by the recipient.",
                    enum=STATUSES,
                    nullable=True,
                ),
                "channel": _channel_enum("The channel."),
                "message_id": _uuid("Id of this channel message."),
                "sender": _string("The sender used.", max_len=None, nullable=True),
                "err": _integer(
                    f"Machine error code; null while pending. {err_text}.",
                    enum=list(ERR_TEXT),
                    nullable=True,
                ),
                "error": _string("Human-readable error, or null.", max_len=None, nullable=True),
                "timestamp": _string(
                    "When this status was recorded (UTC, microseconds, `Z`); null while pending.",
                    max_len=None,
                    fmt="date-time",
                    nullable=True,
                ),
                "price_info": _ref("PriceInfo"),
            },
            description="The status of one channel message.",
        ),
        "PriceInfo": _object(
            {
                "part_price": _string("Price of one part, decimal string.", max_len=None),
                "parts_count": _integer("Number of parts.", minimum=0),
                "total_price": _string("Total price, decimal string.", max_len=None),
            },
            required=("part_price", "parts_count", "total_price"),
            description="Cost of a channel message (present once priced).",
        ),
        "DeliveryReportWebhook": {
            "allOf": [
                _ref("DeliveryResult"),
                _object(
                    {
                        "to": _string("The recipient in E.164.", max_len=None),
                        "omnimessage_id": _uuid("The omnimessage."),
                    },
                    required=("to", "omnimessage_id"),
                ),
            ],
            "description": "Body of a delivery report POSTed to `dlr_url`.",
        },
        "SandboxMessage": _object(
            {
                "message_id": _uuid("The channel message."),
                "omnimessage_id": _uuid("Its omnimessage."),
                "channel": _string("The channel it was sent on.", enum=CHANNELS),
                "to": _string("The recipient in E.164.", max_len=None),
                "sender": _string("The sender used.", max_len=None),
                "text": _string(
                    "A readable plain-text rendering of the content (media, buttons and "
                    "templates as bracketed tags).",
                    max_len=None,
                ),
                "content": {
                    "type": "object",
                    "description": "The validated channel content as sent (without `channel`, "
                    "`sender`, `validity`, `ttl`).",
                },
                "delivered_at": _string(
                    "When the sandbox delivered it (UTC).", max_len=None, fmt="date-time"
                ),
            },
            required=(
                "message_id",
                "omnimessage_id",
                "channel",
                "to",
                "sender",
                "text",
                "content",
                "delivered_at",
            ),
            description="A message delivered into the sandbox inbox.",
        ),
        "SandboxMessageList": _object(
            {"messages": _array(_ref("SandboxMessage"), "Newest first.")},
            required=("messages",),
            description="Sandbox inbox contents.",
        ),
        "Health": _object(
            {"status": _string("Always `ok`.", enum=("ok",))},
            required=("status",),
            description="Liveness answer.",
        ),
    }


def _error_schemas() -> dict[str, Schema]:
    pairs = "; ".join(f'`"{code}"` {title}' for title, code in ERROR_PAIRS)
    return {
        "ErrorOmnichannel": _object(
            {
                "errors": _array(
                    _ref("ErrorItemOmnichannel"),
                    f"Every problem found, at most {MAX_ERRORS} per omnimessage.",
                    min_items=1,
                )
            },
            required=("errors",),
            description="The error body of every non-2xx answer, whatever caused it.",
            example={
                "errors": [
                    {
                        "title": "Invalid data",
                        "detail": "text must be at most 1600 characters long (1712)",
                        "code": "105",
                        "source": "messages[1].text",
                    }
                ]
            },
        ),
        "ErrorItemOmnichannel": _object(
            {
                "title": _string(
                    "Error title, paired with `code`.", enum=tuple(t for t, _ in ERROR_PAIRS)
                ),
                "detail": _string("What is wrong, for humans.", max_len=None),
                "code": _string(
                    f"Error code, a **string**: {pairs}.",
                    enum=tuple(c for _, c in ERROR_PAIRS),
                ),
                "source": _string(
                    "On 400, the offending field as a path into the request body, e.g. `to`, "
                    "`time_to_send`, `messages[1].text`, "
                    "`messages[0].template.components[2].parameters[0].type`; in a bulk request "
                    "prefixed by the item, e.g. `messages[3].messages[0].sender`. Null when the "
                    "whole body is at fault and on every other status.",
                    max_len=None,
                    nullable=True,
                ),
            },
            required=("title", "detail", "code", "source"),
            description="`Missing data` (106) for a required field that is absent or null; "
            "`Invalid data` (105) for everything else wrong in a request.",
        ),
    }


def _error_responses() -> dict[str, Any]:
    schema = _ref("ErrorOmnichannel")
    return {
        "BadRequest": _response(
            "Invalid request (`Invalid data` 105 / `Missing data` 106): malformed JSON, wrong "
            "types, unknown channel, both `ttl` and `validity`, `time_to_send` too far ahead, "
            "... Each item names its field in `source`.",
            schema,
        ),
        "Unauthorized": _response(
            "Missing or wrong HTTP Basic credentials (`Unauthorized` 103). Comes with a "
            "`WWW-Authenticate: Basic` header.",
            schema,
        ),
        "NotFound": _response(
            "No such omnimessage, or it belongs to another account (`Not found` 101).", schema
        ),
        "PayloadTooLarge": _response(
            "The body is larger than the server's limit (`Invalid data` 105): "
            f"{_API.max_body_bytes} bytes for a single send, {_API.max_bulk_body_bytes} for "
            "bulk (server settings).",
            schema,
        ),
    }


# -- paths ---------------------------------------------------------------------------------------

_OMNI_ID = {
    "name": "omnimessageId",
    "in": "path",
    "required": True,
    "description": "The `omnimessage_id` from the send response. Not a UUID → 404.",
    "schema": {"type": "string", "format": "uuid"},
}


def _link(operation_id: str, omnimessage_id: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {"omnimessageId": omnimessage_id}}


_SENT_ID = "$response.body#/omnimessage_id"
_CANCELLED_ID = "$request.path.omnimessageId"
# What a client does next with a sent omnimessage (stateful clients and fuzzers follow these).
_OMNI_LINKS = {
    "GetStatus": _link("retrieveDeliveryReport", _SENT_ID),
    "Cancel": _link("cancelScheduledMessage", _SENT_ID),
}


def _paths() -> dict[str, Any]:
    err = _response_ref
    return {
        "/v1/omnimessage": {
            "post": {
                "operationId": "sendOmnimessage",
                "tags": ["Omnimessage"],
                "summary": "Send an omnimessage, now or scheduled",
                "description": "Validates the message, commits it durably and answers **201** "
                "(exactly: the official clients treat any other 2xx as an empty answer). "
                "Sent now, or at `time_to_send`; channels are tried in order until one "
                "delivers.",
                "requestBody": {"required": True, "content": _json(_ref("Omnimessage"))},
                "responses": {
                    "201": {
                        **_response(
                            "Accepted and stored.", _ref("OmniMessageCreateSuccessResponse")
                        ),
                        "links": _OMNI_LINKS,
                    },
                    "400": err("BadRequest"),
                    "401": err("Unauthorized"),
                    "413": err("PayloadTooLarge"),
                },
            }
        },
        "/v1/omnimessages": {
            "post": {
                "operationId": "sendBulkOmnimessage",
                "tags": ["Bulk messaging"],
                "summary": "Send many omnimessages",
                "description": f"At most {_LIMITS.max_bulk} omnimessages per request. A bad "
                "envelope (not an object, `messages` missing, empty or too long) is 400; "
                "otherwise each item is validated on its own and the answer is **201** with "
                "one result per item, a success or an error object.",
                "requestBody": {"required": True, "content": _json(_ref("BulkOmnimessage"))},
                "responses": {
                    "201": _response(
                        "Per-item results.", _ref("BulkOmniMessageCreateSuccessResponse")
                    ),
                    "400": err("BadRequest"),
                    "401": err("Unauthorized"),
                    "413": err("PayloadTooLarge"),
                },
            }
        },
        "/v1/omnimessage/{omnimessageId}": {
            "parameters": [_OMNI_ID],
            "delete": {
                "operationId": "cancelScheduledMessage",
                "tags": ["Omnimessage"],
                "summary": "Cancel a scheduled omnimessage",
                "description": "Allowed while no channel has been handed to a provider. "
                "Answers **202** `{}`. Cancelling an already-cancelled message answers 202 "
                "again and changes nothing (safe to retry). A message that has started "
                "sending, does not exist or belongs to another account: 404. After cancel, "
                'the status shows every channel as `"DELETED"`.',
                "responses": {
                    "202": {
                        **_response("Cancelled (or already cancelled).", _ref("EmptyObject")),
                        "links": {"GetStatus": _link("retrieveDeliveryReport", _CANCELLED_ID)},
                    },
                    "401": err("Unauthorized"),
                    "404": _response(
                        "Already sent, or no such omnimessage (`Not found` 101).",
                        _ref("ErrorOmnichannel"),
                    ),
                },
            },
        },
        "/v1/omnimessage/{omnimessageId}/status": {
            "parameters": [_OMNI_ID],
            "get": {
                "operationId": "retrieveDeliveryReport",
                "tags": ["Delivery report"],
                "summary": "Delivery status of an omnimessage",
                "description": "One `DeliveryResult` per channel message, in send order. "
                "Scheduled: `status` null; cancelled: `DELETED`. Prefer `dlr_url` to polling.",
                "responses": {
                    "200": _response("The statuses.", _ref("DeliveryReportResponse")),
                    "401": err("Unauthorized"),
                    "404": err("NotFound"),
                },
            },
        },
        "/v1/sandbox/messages": {
            "get": {
                "operationId": "listSandboxMessages",
                "tags": ["Sandbox"],
                "summary": "Messages delivered by the sandbox channel",
                "description": "The sandbox inbox of the authenticated account, newest first. "
                "Tidings extension, not part of the Messente API.",
                "parameters": [
                    {
                        "name": "to",
                        "in": "query",
                        "required": False,
                        "description": "Only messages to this number (E.164; an unencoded `+` "
                        "that arrives as a space is accepted).",
                        "schema": {"type": "string", "examples": ["+37251234567"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": "How many messages at most.",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": SANDBOX_LIMIT_MAX,
                            "default": SANDBOX_LIMIT_DEFAULT,
                        },
                    },
                ],
                "responses": {
                    "200": _response("The messages.", _ref("SandboxMessageList")),
                    "400": _response(
                        "Bad `to` or `limit` (`source` names it).", _ref("ErrorOmnichannel")
                    ),
                    "401": err("Unauthorized"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "tags": ["Operations"],
                "summary": "Prometheus metrics",
                "description": "Engine counters and histograms in the Prometheus text format. "
                "No authentication by default; when the server sets `TIDINGS_METRICS_TOKEN`, "
                "`Authorization: Bearer <that token>` is required.",
                "security": [{}, {"metricsToken": []}],
                "responses": {
                    "200": {
                        "description": "Metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _response(
                        "`TIDINGS_METRICS_TOKEN` is set and the bearer token is missing or wrong.",
                        _ref("ErrorOmnichannel"),
                    ),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "tags": ["Operations"],
                "summary": "Liveness check",
                "description": "Answers 200 while the process serves requests. No authentication.",
                "security": [],
                "responses": {"200": _response("Alive.", _ref("Health"))},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["Operations"],
                "summary": "This OpenAPI document",
                "security": [],
                "responses": {"200": _response("OpenAPI 3.1 document.", {"type": "object"})},
            }
        },
        "/docs": {
            "get": {
                "operationId": "docs",
                "tags": ["Operations"],
                "summary": "This document as a web page",
                "security": [],
                "responses": {
                    "200": {
                        "description": "HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _webhooks() -> dict[str, Any]:
    return {
        "deliveryReport": {
            "post": {
                "summary": "Delivery report sent to `dlr_url`",
                "description": "One JSON POST per status change of each channel message. "
                "Answer with a 2xx or 3xx status; anything else, a timeout or a connection "
                "error is retried with exponential backoff and jitter for at least 24 hours. "
                "Reports for one message arrive in order, and a late non-final status never "
                "follows a final one.",
                "parameters": [
                    {
                        "name": "X-Messente-Signature",
                        "in": "header",
                        "required": True,
                        "description": "Hex HMAC-SHA256 of the raw body.",
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    }
                ],
                "requestBody": {"required": True, "content": _json(_ref("DeliveryReportWebhook"))},
                "responses": {"200": {"description": "Any 2xx or 3xx acknowledges the report."}},
            }
        }
    }


_INFO_DESCRIPTION = (
    "A self-hosted gateway that speaks the Messente Omnichannel API v1 wire format: point any "
    "official Messente SDK (host `http://<server>/v1`) or curl at it. JSON in, JSON out; "
    "`Content-Type: application/json` on every JSON answer.\n\n"
    "Every error, whatever its cause (bad input, unknown path 404, wrong method 405, internal "
    "error 500), has the `ErrorOmnichannel` body with a string `code`; never a framework's "
    "default body. Success codes are exact: send and bulk 201, cancel 202, status 200.\n\n"
    "Schemas state the limits the server enforces; where upstream documents no limit, the "
    "bounds are Tidings' own."
)


@functools.lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once; the same dict is returned every time: don't mutate)."""
    schemas: dict[str, Schema] = {}
    for group in (
        _omnimessage_schemas,
        _sms_schemas,
        _viber_schemas,
        _whatsapp_schemas,
        _rcs_schemas,
        _telegram_schemas,
        _result_schemas,
        _error_schemas,
    ):
        schemas.update(group())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "1.0.0",
            "description": _INFO_DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "security": [{"basicAuth": []}],
        "tags": [
            {"name": "Omnimessage", "description": "Send, schedule and cancel."},
            {"name": "Bulk messaging", "description": "Many omnimessages at once."},
            {"name": "Delivery report", "description": "Status of sent messages."},
            {"name": "Sandbox", "description": "The built-in test channel's inbox."},
            {"name": "Operations", "description": "Health, metrics and this document."},
        ],
        "paths": _paths(),
        "webhooks": _webhooks(),
        "components": {
            "securitySchemes": {
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The account's API username and password.",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`TIDINGS_METRICS_TOKEN`, for `/metrics` when it is set.",
                },
            },
            "schemas": schemas,
            "responses": _error_responses(),
        },
    }


# -- HTML ----------------------------------------------------------------------------------------

_METHODS = ("get", "post", "put", "patch", "delete")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")

_CSS = """
:root { --fg:#1d2430; --muted:#5b6676; --line:#dde3ea; --bg:#fff; --soft:#f5f7fa;
  --accent:#2457c5; --get:#1f7a4d; --post:#2457c5; --delete:#b3261e; --put:#8a5a00; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.9rem; margin: 0 0 .25rem; }
h2 { font-size: 1.4rem; margin: 2.5rem 0 1rem; padding-bottom: .3rem;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 1.1rem; margin: 0; }
p { margin: .5rem 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size: .88em; }
code { background: var(--soft); border: 1px solid var(--line); border-radius: 4px;
  padding: 0 .3em; }
pre { background: #0f1720; color: #e6edf3; padding: .9rem 1rem; border-radius: 6px;
  overflow-x: auto; }
pre code { background: none; border: 0; padding: 0; color: inherit; }
.muted { color: var(--muted); }
.note { background: var(--soft); border-left: 4px solid var(--accent); padding: .6rem 1rem;
  border-radius: 0 6px 6px 0; }
.op { border: 1px solid var(--line); border-radius: 8px; margin: 1rem 0; padding: 1rem 1.2rem; }
.op header { display: flex; gap: .75rem; align-items: baseline; flex-wrap: wrap; }
.method { font: 700 .8rem/1 ui-monospace,Menlo,Consolas,monospace; color: #fff;
  padding: .35rem .55rem; border-radius: 4px; text-transform: uppercase; }
.m-get { background: var(--get); } .m-post { background: var(--post); }
.m-delete { background: var(--delete); } .m-put, .m-patch { background: var(--put); }
.path { font: 600 1rem ui-monospace,Menlo,Consolas,monospace; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .45rem .6rem;
  border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; }
td.name { white-space: nowrap; font-family: ui-monospace,Menlo,Consolas,monospace; }
.req { color: var(--delete); font-size: .8rem; font-weight: 600; }
.schema { margin: 1.5rem 0 2rem; }
nav ul { columns: 2; padding-left: 1.2rem; }
"""


def _inline(text: str) -> str:
    """Escape `text`, then render `code` spans and **bold** (markers survive escaping)."""
    out = html.escape(text)
    out = _CODE_SPAN.sub(r"<code>\1</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


def _paragraphs(text: str | None) -> str:
    if not text:
        return ""
    return "".join(f"<p>{_inline(p)}</p>" for p in text.split("\n\n") if p.strip())


def _schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_link(name: str) -> str:
    esc = html.escape(name)
    return f'<a href="#schema-{esc}"><code>{esc}</code></a>'


def _type_html(schema: dict[str, Any]) -> str:
    """A short type description: a link for a $ref, `array of X`, `A | B`, `string | null`."""
    if "$ref" in schema:
        return _schema_link(_schema_name(str(schema["$ref"])))
    if "oneOf" in schema and "type" not in schema:
        return " | ".join(_type_html(s) for s in schema["oneOf"])
    if "allOf" in schema:
        return " + ".join(_type_html(s) for s in schema["allOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_html(schema.get('items', {}))}"
    kinds = kind if isinstance(kind, list) else [kind]
    text = " | ".join(html.escape(str(k)) for k in kinds)
    if "format" in schema:
        text += f" <span class='muted'>({html.escape(str(schema['format']))})</span>"
    return text


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _constraints(schema: dict[str, Any]) -> str:
    parts: list[str] = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(_json_value(v) for v in schema["enum"]))
    labels = (
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("maxProperties", "max properties"),
        ("pattern", "pattern"),
        ("default", "default"),
    )
    for key, label in labels:
        if key in schema:
            value = schema[key]
            shown = _json_value(value) if key == "default" else str(value)
            parts.append(f"{label} {shown}")
    if "oneOf" in schema and "type" in schema:
        keys = [r["required"][0] for r in schema["oneOf"] if r.get("required")]
        parts.append("exactly one of " + ", ".join(keys))
    return "<br>".join(f"<code>{html.escape(p)}</code>" for p in parts)


def _properties_table(schema: dict[str, Any]) -> str:
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return ""
    required = set(schema.get("required", []))
    rows = []
    for name, prop in props.items():
        req = "<span class='req'>required</span>" if name in required else ""
        rows.append(
            f"<tr><td class='name'>{html.escape(name)}</td><td>{_type_html(prop)}</td>"
            f"<td>{req}</td><td>{_constraints(prop)}</td>"
            f"<td>{_inline(str(prop.get('description', '')))}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Property</th><th>Type</th><th>Required</th>"
        "<th>Constraints</th><th>Description</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _body_schema(content: dict[str, Any] | None) -> str:
    if not content:
        return ""
    parts = []
    for media_type, media in content.items():
        schema = media.get("schema", {})
        parts.append(f"{_type_html(schema)} <span class='muted'>({html.escape(media_type)})</span>")
    return "; ".join(parts)


def _anchor(method: str, path: str) -> str:
    return "op-" + re.sub(r"[^A-Za-z0-9]+", "-", f"{method} {path}").strip("-")


def _resolve_response(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        resolved: dict[str, Any] = doc["components"]["responses"][_schema_name(response["$ref"])]
        return resolved
    return response


def _operation_html(
    doc: dict[str, Any],
    path: str,
    method: str,
    op: dict[str, Any],
    shared_params: list[dict[str, Any]],
) -> str:
    anchor = html.escape(_anchor(method, path))
    out = [
        f"<section class='op' id='{anchor}'><header>"
        f"<span class='method m-{html.escape(method)}'>{html.escape(method)}</span>"
        f"<span class='path'>{html.escape(path)}</span>"
        f"<h3>{_inline(str(op.get('summary', '')))}</h3></header>",
        _paragraphs(op.get("description")),
    ]
    if op.get("security") == []:
        out.append("<p class='muted'>No authentication.</p>")
    params = [*shared_params, *op.get("parameters", [])]
    if params:
        rows = "".join(
            f"<tr><td class='name'>{html.escape(str(p['name']))}</td>"
            f"<td>{html.escape(str(p['in']))}</td>"
            f"<td>{_type_html(p.get('schema', {}))}</td>"
            f"<td>{'<span class=req>required</span>' if p.get('required') else ''}</td>"
            f"<td>{_constraints(p.get('schema', {}))}</td>"
            f"<td>{_inline(str(p.get('description', '')))}</td></tr>"
            for p in params
        )
        out.append(
            "<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th>"
            "<th>Required</th><th>Constraints</th><th>Description</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    body = op.get("requestBody")
    if body:
        out.append(f"<h4>Request body</h4><p>{_body_schema(body.get('content'))}</p>")
    rows_r = []
    for code, raw in op.get("responses", {}).items():
        response = _resolve_response(doc, raw)
        rows_r.append(
            f"<tr><td class='name'>{html.escape(str(code))}</td>"
            f"<td>{_inline(str(response.get('description', '')))}</td>"
            f"<td>{_body_schema(response.get('content'))}</td></tr>"
        )
    out.append(
        "<h4>Responses</h4><table><thead><tr><th>Code</th><th>Description</th><th>Body</th>"
        f"</tr></thead><tbody>{''.join(rows_r)}</tbody></table></section>"
    )
    return "".join(out)


def _schema_html(name: str, schema: dict[str, Any]) -> str:
    esc = html.escape(name)
    out = [f"<section class='schema' id='schema-{esc}'><h3><code>{esc}</code></h3>"]
    out.append(_paragraphs(schema.get("description")))
    if "allOf" in schema:
        out.append(f"<p>All of: {_type_html(schema)}</p>")
    kind = schema.get("type")
    if kind is not None and kind != "object":
        out.append(f"<p>Type: {_type_html(schema)} {_constraints(schema)}</p>")
    elif kind == "object" and "oneOf" in schema:
        out.append(f"<p>{_constraints({'oneOf': schema['oneOf'], 'type': 'object'})}</p>")
    out.append(_properties_table(schema))
    for example in schema.get("examples", []):
        text = json.dumps(example, indent=2, ensure_ascii=False)
        out.append(f"<p class='muted'>Example</p><pre><code>{html.escape(text)}</code></pre>")
    out.append("</section>")
    return "".join(out)


def docs_html(doc: dict[str, Any]) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources) for `doc`."""
    info = doc.get("info", {})
    title = str(info.get("title", "API"))
    ops: list[str] = []
    toc: list[str] = []
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            if method in item:
                op = item[method]
                anchor = _anchor(method, path)
                toc.append(
                    f"<li><a href='#{html.escape(anchor)}'><code>{html.escape(method.upper())} "
                    f"{html.escape(path)}</code></a> {_inline(str(op.get('summary', '')))}</li>"
                )
                ops.append(_operation_html(doc, path, method, op, shared))
    hooks = []
    for name, item in doc.get("webhooks", {}).items():
        for method in _METHODS:
            if method in item:
                hooks.append(_operation_html(doc, f"webhook {name}", method, item[method], []))
    schemas = doc.get("components", {}).get("schemas", {})
    schema_toc = ", ".join(_schema_link(name) for name in schemas)
    auth = (
        "<div class='note'><strong>Authentication.</strong> HTTP Basic with the account's API "
        "username and password on every <code>/v1</code> endpoint, e.g. "
        "<code>curl -u user:password</code>. Missing or wrong credentials answer 401.</div>"
    )
    example = (
        "curl -u user:password -H 'Content-Type: application/json' \\\n"
        '  -d \'{"to": "+37251234567", "messages": '
        '[{"channel": "sms", "text": "Hello"}]}\' \\\n'
        "  http://localhost:8000/v1/omnimessage"
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>Version {html.escape(str(info.get('version', '')))} · OpenAPI "
        f"{html.escape(str(doc.get('openapi', '')))} · machine-readable at "
        "<a href='/openapi.json'><code>/openapi.json</code></a></p>",
        _paragraphs(info.get("description")),
        auth,
        f"<pre><code>{html.escape(example)}</code></pre>",
        f"<nav><h2>Endpoints</h2><ul>{''.join(toc)}</ul></nav>",
        "<h2>Operations</h2>",
        *ops,
    ]
    if hooks:
        parts += ["<h2>Webhooks (sent by the server)</h2>", *hooks]
    parts += [
        "<h2>Schemas</h2>",
        f"<p>{schema_toc}</p>",
        *(_schema_html(name, schema) for name, schema in schemas.items()),
        "</main></body></html>",
    ]
    return "\n".join(parts)
