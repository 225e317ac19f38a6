"""The channel objects of `messages` (DESIGN.md section 1, reference sections 2 and 8).

Required fields and enums follow the official client models (messente-api 2.5.x for Telegram,
2.7.0 for the rest). Where upstream documents no limit, the caps below are ours: generous enough
for any real message, small enough to bound storage and work.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from annotated_types import Ge, Interval, Len
from pydantic import Field

from tidings.core.contract.rules import (
    AtLeastOne,
    AtMostOne,
    ExactlyOne,
    NotBefore,
    NotBoth,
    Rule,
    Shapes,
    TypeNamesField,
    Wire,
)
from tidings.core.contract.types import (
    DEFAULT_MAX_LEN,
    DEFAULTS,
    Checked,
    IntegerOrDigits,
    Link,
    PhoneNumber,
    RcsSender,
    Refused,
    Sender,
    Short,
    Text,
    TimeText,
    UpToLimit,
    Url,
    matches,
)

# -- caps ----------------------------------------------------------------------------------------
SMS_TEXT_MAX = 1600  # characters (code points); ours: ~10 GSM-7 or ~24 UCS-2 segments
SMS_UDH_HEX_MAX = 280  # hex digits = 140 bytes, one whole SMS payload
VIBER_TEXT_MAX = 1000  # legacy Messente docs
VIBER_BUTTON_TEXT_MAX = 30  # ours, after Viber's button caption limit; also carousel labels
VIBER_VIDEO_MAX_BYTES = 200 * 1024 * 1024  # 209715200
VIBER_VIDEO_MAX_SECONDS = 600
VIBER_TEMPLATE_ID_MAX = 200  # ours
VIBER_TEMPLATE_PARAMS_MAX = 100  # ours
LANGUAGE_CODE_MAX = 20  # ours: "en", "pt_BR", "zh_Hant_TW"
CAROUSEL_TITLE_MIN, CAROUSEL_TITLE_MAX = 2, 38
CAROUSEL_ITEMS_MIN, CAROUSEL_ITEMS_MAX = 2, 5
WHATSAPP_BODY_MAX = 4096  # WhatsApp Cloud API text limit
WHATSAPP_CAPTION_MAX = 1024  # WhatsApp Cloud API caption limit
WHATSAPP_TEMPLATE_NAME_MAX = 512  # WhatsApp Cloud API template name limit
WHATSAPP_COMPONENTS_MAX = 50  # ours
WHATSAPP_PARAMETERS_MAX = 100  # ours, per component
RCS_TEXT_MAX = 3072
RCS_SUGGESTIONS_MAX = 11
RCS_CARD_SUGGESTIONS_MAX = 4
RCS_CARD_TITLE_MAX = 200
RCS_CARD_DESCRIPTION_MAX = 2000
RCS_CAROUSEL_MIN, RCS_CAROUSEL_MAX = 2, 10
RCS_CHIP_TEXT_MAX = 25
RCS_POSTBACK_MAX = 2048
RCS_EVENT_TITLE_MAX = 100
RCS_EVENT_DESCRIPTION_MAX = 500
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


# -- viber ---------------------------------------------------------------------------------------


class ViberVideo(Wire):
    """A Viber video."""

    url: Url = Field(description="The video file.")
    thumbnail: Url = Field(description="Thumbnail image.")
    file_size: Annotated[int, Interval(ge=1, le=VIBER_VIDEO_MAX_BYTES)] = Field(
        description="Size in bytes, at most 200 MB."
    )
    duration: Annotated[int, Interval(ge=1, le=VIBER_VIDEO_MAX_SECONDS)] = Field(
        description="Length in seconds."
    )


class ViberTemplate(Wire):
    """A pre-approved Viber template (messente-api 2.6.0+)."""

    id: Annotated[str, Len(1, VIBER_TEMPLATE_ID_MAX)] = Field(description="Template id.")
    lang: Annotated[str, Len(1, LANGUAGE_CODE_MAX)] = Field(description="Language code, e.g. `en`.")
    params: (
        Annotated[
            dict[str, Annotated[str, Len(0, DEFAULT_MAX_LEN)]], Len(0, VIBER_TEMPLATE_PARAMS_MAX)
        ]
        | None
    ) = Field(None, description="Template parameters: name → string value.")


class ViberCarouselButton(Wire):
    """A carousel item button."""

    label: Annotated[str, Len(1, VIBER_BUTTON_TEXT_MAX)] = Field(description="Button caption.")
    action_url: Link = Field(description="Opened when the button is pressed.")


class ViberCarouselItem(Wire):
    """One card of a Viber carousel."""

    title: Annotated[str, Len(CAROUSEL_TITLE_MIN, CAROUSEL_TITLE_MAX)] = Field(
        description="Item title."
    )
    image_url: Url = Field(description="Item image.")
    primary_button: ViberCarouselButton
    secondary_button: ViberCarouselButton | None = None


class ViberCarousel(Wire):
    """A Viber carousel (messente-api 2.6.0+)."""

    items: Annotated[list[ViberCarouselItem], Len(CAROUSEL_ITEMS_MIN, CAROUSEL_ITEMS_MAX)]


VIBER_CONTENT = ("text", "image_url", "button_text", "button_url", "video", "template", "carousel")
VIBER_SHAPES = (
    "text",
    "image_url",
    "text+button_text+button_url",
    "text+image_url+button_text+button_url",
    "video",
    "video+text",
    "video+text+button_text",
    "video+text+button_text+button_url",
    "template",
    "carousel",
    "carousel+text",
)


class Viber(ChannelMessage):
    """A Viber business message. Any other combination of content fields is 400."""

    __rules__ = (*ChannelMessage.__rules__, Shapes(VIBER_CONTENT, VIBER_SHAPES, "a viber message"))

    channel: Literal["viber"]
    text: Annotated[str, Len(1, VIBER_TEXT_MAX)] | None = Field(
        None, description=f"Message text, at most {VIBER_TEXT_MAX} characters."
    )
    image_url: Url | None = Field(None, description="Image to show.")
    button_text: Annotated[str, Len(1, VIBER_BUTTON_TEXT_MAX)] | None = Field(
        None, description="Button caption (with `button_url`)."
    )
    button_url: Link | None = Field(None, description="Opened by the button.")
    video: ViberVideo | None = None
    template: ViberTemplate | None = None
    carousel: ViberCarousel | None = None


# -- whatsapp ------------------------------------------------------------------------------------

_Caption = Annotated[str, Len(1, WHATSAPP_CAPTION_MAX)]


class WhatsAppText(Wire):
    """A free-form text message."""

    body: Annotated[str, Len(1, WHATSAPP_BODY_MAX)] = Field(
        description="Message text; may contain URLs, emojis and formatting."
    )
    preview_url: bool | None = Field(None, description="Show a preview of the first URL.")


class _Media(Wire):
    id: Short | None = Field(None, description="Media id from an earlier upload.")
    link: Url | None = Field(None, description="Public link to the media.")


class WhatsAppImage(_Media):
    """An image message."""

    __rules__ = (ExactlyOne(("id", "link"), "image"),)
    caption: _Caption | None = Field(None, description="Caption.")
    mime_type: Short | None = Field(None, description="MIME type, e.g. `image/jpeg`.")


class WhatsAppVideo(_Media):
    """A video message."""

    __rules__ = (ExactlyOne(("id", "link"), "video"),)
    caption: _Caption | None = Field(None, description="Caption.")
    mime_type: Short | None = Field(None, description="MIME type, e.g. `video/mp4`.")


class WhatsAppAudio(_Media):
    """An audio message."""

    __rules__ = (ExactlyOne(("id", "link"), "audio"),)
    mime_type: Short | None = Field(None, description="MIME type, e.g. `audio/ogg`.")


class WhatsAppDocument(_Media):
    """A document message."""

    __rules__ = (ExactlyOne(("id", "link"), "document"),)
    caption: _Caption | None = Field(None, description="Caption.")
    mime_type: Short | None = Field(None, description="MIME type, e.g. `application/pdf`.")
    file_name: Short | None = Field(None, description="File name shown to the recipient.")


class WhatsAppSticker(_Media):
    """A sticker message."""

    __rules__ = (ExactlyOne(("id", "link"), "sticker"),)
    mime_type: Short | None = Field(None, description="MIME type, e.g. `image/webp`.")
    animated: bool | None = Field(None, description="Whether the sticker is animated.")


class WhatsAppParameterMedia(_Media):
    """Media in a template parameter."""

    __rules__ = (ExactlyOne(("id", "link"), "parameter"),)
    caption: _Caption | None = Field(None, description="Caption.")
    filename: Short | None = Field(None, description="File name (documents).")


class WhatsAppCurrency(Wire):
    """A currency parameter."""

    fallback_value: Text = Field(description="Shown where localisation fails.")
    code: Annotated[str, matches(r"[A-Z]{3}", "must be an ISO 4217 currency code such as EUR")] = (
        Field(description="ISO 4217 code.")
    )
    amount_1000: Annotated[
        int | str, IntegerOrDigits("amount_1000 must be an integer (the amount times 1000)")
    ] = Field(description="The amount times 1000, as an integer or a string of digits.")


class WhatsAppDatetime(Wire):
    """A date-time parameter."""

    fallback_value: Text = Field(description="The date and time as text.")


WHATSAPP_PARAMETER_TYPES = (
    "text",
    "currency",
    "date_time",
    "image",
    "document",
    "video",
    "coupon_code",
    "payload",
)


class WhatsAppParameter(Wire):
    """A template parameter."""

    __rules__ = (TypeNamesField(WHATSAPP_PARAMETER_TYPES),)

    type: Literal[
        "text", "currency", "date_time", "image", "document", "video", "coupon_code", "payload"
    ] = Field(description="Parameter type; the property of that name must be present.")
    text: Text | None = Field(None, description="Text value.")
    currency: WhatsAppCurrency | None = None
    date_time: WhatsAppDatetime | None = None
    image: WhatsAppParameterMedia | None = None
    document: WhatsAppParameterMedia | None = None
    video: WhatsAppParameterMedia | None = None
    coupon_code: Text | None = Field(None, description="Coupon code.")
    payload: Text | None = Field(None, description="Quick-reply button payload.")


class WhatsAppComponent(Wire):
    """One component of a template with its parameters."""

    type: Short = Field(description="Component type, e.g. `header`, `body`, `button`.")
    sub_type: Short | None = Field(None, description="Button sub-type, e.g. `quick_reply`, `url`.")
    index: Annotated[int, Ge(0)] | None = Field(
        None, description="Position of the button (for buttons)."
    )
    parameters: Annotated[list[WhatsAppParameter], Len(0, WHATSAPP_PARAMETERS_MAX)] | None = None


class WhatsAppLanguage(Wire):
    """Template language."""

    code: Annotated[str, Len(1, LANGUAGE_CODE_MAX)] = Field(
        description="Language code, e.g. `en` or `pt_BR`."
    )
    policy: Short | None = Field(None, description="Language policy, e.g. `deterministic`.")


class WhatsAppTemplate(Wire):
    """A pre-approved WhatsApp template."""

    name: Annotated[str, Len(1, WHATSAPP_TEMPLATE_NAME_MAX)] = Field(description="Template name.")
    language: WhatsAppLanguage
    components: Annotated[list[WhatsAppComponent], Len(0, WHATSAPP_COMPONENTS_MAX)]


WHATSAPP_CONTENT = ("text", "template", "image", "video", "audio", "document", "sticker")


class WhatsApp(ChannelMessage):
    """A WhatsApp message."""

    __rules__ = (*ChannelMessage.__rules__, ExactlyOne(WHATSAPP_CONTENT, "a whatsapp message"))

    channel: Literal["whatsapp"]
    text: WhatsAppText | None = None
    template: WhatsAppTemplate | None = None
    image: WhatsAppImage | None = None
    video: WhatsAppVideo | None = None
    audio: WhatsAppAudio | None = None
    document: WhatsAppDocument | None = None
    sticker: WhatsAppSticker | None = None


# -- rcs -----------------------------------------------------------------------------------------

_ChipText = Annotated[str, Len(1, RCS_CHIP_TEXT_MAX)]
_Postback = Annotated[str, Len(1, RCS_POSTBACK_MAX)]


class RcsContentInfo(Wire):
    """A file to send."""

    file_url: Url = Field(description="The file.")
    thumbnail_url: Url | None = Field(None, description="Its thumbnail.")
    force_refresh: bool = Field(description="Fetch the file again instead of using a cached copy.")


class RcsMedia(Wire):
    """Media of a card."""

    height: Literal["SHORT", "MEDIUM", "TALL"] = Field(description="Media height.")
    content_info: RcsContentInfo


class RcsSuggestedReply(Wire):
    """A suggested reply."""

    text: _ChipText = Field(description="Chip text.")
    postback_data: _Postback = Field(description="Sent back when tapped.")


class RcsDialAction(Wire):
    """Open the dialler."""

    phone_number: PhoneNumber = Field(description="Number to call, international format.")


class RcsLatLong(Wire):
    """Coordinates."""

    latitude: Annotated[float, Interval(ge=-90, le=90)] = Field(description="Degrees.")
    longitude: Annotated[float, Interval(ge=-180, le=180)] = Field(description="Degrees.")


class RcsViewLocationAction(Wire):
    """Show a location."""

    __rules__ = (ExactlyOne(("lat_long", "query"), "view_location_action"),)

    lat_long: RcsLatLong | None = None
    query: Text | None = Field(None, description="A search query for the map.")
    label: Text | None = Field(None, description="Pin label.")


class RcsCreateCalendarEventAction(Wire):
    """Add an event to the calendar."""

    __rules__ = (NotBefore("start_time", "end_time"),)

    start_time: TimeText = Field(description="Start, in the `time_to_send` format.")
    end_time: TimeText = Field(description="End, in the `time_to_send` format.")
    title: Annotated[str, Len(1, RCS_EVENT_TITLE_MAX)] = Field(description="Event title.")
    description: Annotated[str, Len(1, RCS_EVENT_DESCRIPTION_MAX)] = Field(
        description="Event description."
    )


class RcsOpenUrlAction(Wire):
    """Open a URL."""

    url: Link = Field(description="The URL.")
    description: Text | None = Field(None, description="Accessibility description.")
    application: Literal["BROWSER", "WEBVIEW"] = Field(description="Where to open it.")
    webview_view_mode: Literal["FULL", "HALF", "TALL"] | None = Field(
        None, description="Webview size."
    )


class RcsShareLocationAction(Wire):
    """Ask the user to share their location (an empty object)."""


RCS_ACTIONS = (
    "dial_action",
    "view_location_action",
    "create_calendar_event_action",
    "open_url_action",
    "share_location_action",
)


class RcsSuggestedAction(Wire):
    """A suggested action."""

    __rules__ = (ExactlyOne(RCS_ACTIONS, "an action"),)

    text: _ChipText = Field(description="Chip text.")
    postback_data: _Postback = Field(description="Sent back when tapped.")
    fallback_url: Link | None = Field(None, description="Opened where the action is unsupported.")
    dial_action: RcsDialAction | None = None
    view_location_action: RcsViewLocationAction | None = None
    create_calendar_event_action: RcsCreateCalendarEventAction | None = None
    open_url_action: RcsOpenUrlAction | None = None
    share_location_action: RcsShareLocationAction | None = None


class RcsSuggestion(Wire):
    """A chip."""

    __rules__ = (ExactlyOne(("reply", "action"), "a suggestion"),)

    reply: RcsSuggestedReply | None = None
    action: RcsSuggestedAction | None = None


class RcsCardContent(Wire):
    """A card's content."""

    __rules__ = (
        AtLeastOne(
            ("title", "description", "media"),
            "a card needs at least one of title, description, media",
        ),
    )

    title: Annotated[str, Len(1, RCS_CARD_TITLE_MAX)] | None = Field(
        None, description="Card title."
    )
    description: Annotated[str, Len(1, RCS_CARD_DESCRIPTION_MAX)] | None = Field(
        None, description="Card text."
    )
    media: RcsMedia | None = None
    suggestions: Annotated[list[RcsSuggestion], Len(0, RCS_CARD_SUGGESTIONS_MAX)] | None = None


class RcsStandaloneCard(Wire):
    """A single rich card."""

    card_orientation: Literal["VERTICAL", "HORIZONTAL"] = Field(description="Layout.")
    thumbnail_image_alignment: Literal["LEFT", "RIGHT"] = Field(
        description="Image side for horizontal cards."
    )
    card_content: RcsCardContent


class RcsCarouselCard(Wire):
    """A carousel of rich cards."""

    card_width: Literal["SMALL", "MEDIUM"] = Field(description="Card width.")
    card_contents: Annotated[list[RcsCardContent], Len(RCS_CAROUSEL_MIN, RCS_CAROUSEL_MAX)]


class RcsRichCard(Wire):
    """A rich card."""

    __rules__ = (ExactlyOne(("standalone_card", "carousel_card"), "rich_card"),)

    standalone_card: RcsStandaloneCard | None = None
    carousel_card: RcsCarouselCard | None = None


class RCS(ChannelMessage):
    """An RCS Business Messaging message (messente-api 2.6.0+), with optional suggestion chips."""

    __rules__ = (
        *ChannelMessage.__rules__,
        ExactlyOne(("text", "rich_card", "content_info"), "an rcs message"),
    )

    channel: Literal["rcs"]
    sender: RcsSender = Field(
        description="Sender identity (the RBM agent). **Required for rcs.** The same forms as "
        "any other sender.",
        examples=["Tidings"],
    )
    text: Annotated[str, Len(1, RCS_TEXT_MAX)] | None = Field(
        None, description=f"At most {RCS_TEXT_MAX} characters."
    )
    rich_card: RcsRichCard | None = None
    content_info: RcsContentInfo | None = None
    suggestions: Annotated[list[RcsSuggestion], Len(0, RCS_SUGGESTIONS_MAX)] | None = Field(
        None, description="Suggested replies and actions."
    )


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


CHANNEL_MODELS: tuple[type[ChannelMessage], ...] = (SMS, Viber, WhatsApp, RCS, Telegram)
