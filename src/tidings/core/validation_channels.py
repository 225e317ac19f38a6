"""Validation of one channel object of `messages` (DESIGN.md section 1, reference sections 2, 8).

Required fields and enums follow the official client models (messente-api 2.5.x for Telegram,
2.7.0 for the rest). Where upstream documents no limit, the caps below are ours: generous enough
for any real message, small enough to bound storage and work.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tidings.core._fields import Node, Problems, json_type
from tidings.core.model import CHANNELS, ChannelRequest, Limits
from tidings.core.phone import normalise_msisdn
from tidings.core.timeparse import parse_time_to_send
from tidings.core.validation_sender import SENDER_ALNUM_MAX as SENDER_ALNUM_MAX
from tidings.core.validation_sender import SENDER_DIGITS_MAX as SENDER_DIGITS_MAX
from tidings.core.validation_sender import sender_problem

# -- caps ----------------------------------------------------------------------------------------
SMS_TEXT_MAX = 1600  # characters (code points); ours: ~10 GSM-7 or ~24 UCS-2 segments
SMS_UDH_HEX_MAX = 280  # hex digits = 140 bytes, one whole SMS payload
VIBER_TEXT_MAX = 1000  # legacy Messente docs
VIBER_BUTTON_TEXT_MAX = 30  # ours, after Viber's button caption limit; also carousel labels
VIBER_VIDEO_MAX_BYTES = 200 * 1024 * 1024  # 209715200
VIBER_VIDEO_MAX_SECONDS = 600
VIBER_TEMPLATE_ID_MAX = 200  # ours
LANGUAGE_CODE_MAX = 20  # ours: "en", "pt_BR", "zh_Hant_TW"
CAROUSEL_TITLE_MIN, CAROUSEL_TITLE_MAX = 2, 38
CAROUSEL_ITEMS_MIN, CAROUSEL_ITEMS_MAX = 2, 5
WHATSAPP_BODY_MAX = 4096  # WhatsApp Cloud API text limit
WHATSAPP_CAPTION_MAX = 1024  # WhatsApp Cloud API caption limit
WHATSAPP_TEMPLATE_NAME_MAX = 512  # WhatsApp Cloud API template name limit
WHATSAPP_COMPONENTS_MAX = 50  # ours
WHATSAPP_PARAMETERS_MAX = 100  # ours, per component
SHORT_MAX = 255  # ours: mime types, file names, component types, language policy
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

# An RCS sender is the RBM agent that sends (`agentId`), not an SMS sender ID: RBM documents it
# only as "the agent's unique identifier" (ids like `my-agent` or `acme_x1_agent`), so ours is:
# 1-100 ASCII letters, digits, '_', '-', '.', '@', beginning with a letter or a digit.
RCS_AGENT_ID_MAX = 100
RCS_AGENT_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.@-]{{0,{RCS_AGENT_ID_MAX - 1}}}$"
_RCS_AGENT_ID = re.compile(RCS_AGENT_ID_PATTERN.strip("^$"), re.ASCII)
RCS_AGENT_ID_RULE = (
    f"the rcs sender is the RBM agent id: 1-{RCS_AGENT_ID_MAX} letters, digits, '_', '-', '.'"
    " or '@', beginning with a letter or a digit"
)

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_AMOUNT = re.compile(r"-?[0-9]{1,18}", re.ASCII)


def validate_channel(
    item: object, path: str, limits: Limits, problems: Problems
) -> ChannelRequest | None:
    """Validate `item` (found at `path`, e.g. ``messages[0]``); None when anything was reported."""
    if not isinstance(item, dict):
        problems.invalid(path, f"each message must be an object, got {json_type(item)}")
        return None
    before = problems.total
    node = Node(item, path, problems)
    channel = node.string("channel", required=True, choices=CHANNELS)
    sender = _sender(node, rcs=channel == "rcs")
    validity_s = _validity_seconds(node, channel, limits)
    if channel is not None:
        _CONTENT[channel](node)
    if problems.total > before or channel is None or validity_s is None:
        return None
    content = {key: value for key, value in node.out.items() if key not in ENVELOPE_KEYS}
    return ChannelRequest(channel=channel, sender=sender, validity_s=validity_s, content=content)


# -- envelope fields shared by every channel ---------------------------------------------------


def _sender(node: Node, *, rcs: bool) -> str | None:
    """The sender ID; for rcs (where it is required) the RBM agent id."""
    if rcs and not node.present("sender"):
        node.missing("sender", "sender is required for rcs")
        return None
    sender = node.string("sender", max_len=SHORT_MAX)
    if sender is None:
        return None
    if rcs:
        problem = None if _RCS_AGENT_ID.fullmatch(sender) else RCS_AGENT_ID_RULE
    else:
        problem = sender_problem(sender)
    if problem is None:
        return sender
    node.invalid("sender", problem)
    return None


def _validity_seconds(node: Node, channel: str | None, limits: Limits) -> int | None:
    """validity (minutes) or ttl (seconds), never both; the default when neither is given."""
    if channel == "telegram" and node.present("ttl"):
        node.invalid("ttl", "telegram takes validity (minutes) only, not ttl")
        return None
    validity = node.integer("validity", min_value=1)
    ttl = node.integer("ttl", min_value=1)
    if node.present("validity") and node.present("ttl"):
        node.invalid("ttl", "give either validity (minutes) or ttl (seconds), not both")
        return None
    if validity is not None:
        key, seconds = "validity", validity * 60
    elif ttl is not None:
        key, seconds = "ttl", ttl
    elif node.present("validity") or node.present("ttl"):
        return None  # already reported
    else:
        return limits.default_validity_s
    if seconds > limits.max_validity_s:
        node.invalid(
            key,
            f"{key} is too long: at most {limits.max_validity_s // 60} minutes "
            f"({limits.max_validity_s} seconds)",
        )
        return None
    return seconds


# -- sms -----------------------------------------------------------------------------------------

_AUTOCONVERT = {"on": "on", "full": "full", "off": "off", "true": "on", "false": "off"}


def _sms(node: Node) -> None:
    node.string("text", required=True, max_len=SMS_TEXT_MAX)
    autoconvert = node.string("autoconvert", choices=tuple(_AUTOCONVERT))
    if autoconvert is not None:
        node.out["autoconvert"] = _AUTOCONVERT[autoconvert]
    udh = node.string("udh", max_len=SMS_UDH_HEX_MAX)
    if udh is not None and not _HEX.fullmatch(udh):
        node.invalid("udh", "udh must be hexadecimal with an even number of digits")


# -- viber ---------------------------------------------------------------------------------------

VIBER_CONTENT = ("text", "image_url", "button_text", "button_url", "video", "template", "carousel")
VIBER_SHAPE_NAMES = (
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
VIBER_SHAPES = tuple(frozenset(name.split("+")) for name in VIBER_SHAPE_NAMES)


def _shape_name(shape: frozenset[str]) -> str:
    return "+".join(key for key in VIBER_CONTENT if key in shape)


def _viber(node: Node) -> None:
    node.string("text", max_len=VIBER_TEXT_MAX)
    node.url("image_url")
    node.string("button_text", max_len=VIBER_BUTTON_TEXT_MAX)
    node.url("button_url", web=False)
    video = node.child("video")
    if video is not None:
        video.url("url", required=True)
        video.url("thumbnail", required=True)
        video.integer("file_size", required=True, min_value=1, max_value=VIBER_VIDEO_MAX_BYTES)
        video.integer("duration", required=True, min_value=1, max_value=VIBER_VIDEO_MAX_SECONDS)
    template = node.child("template")
    if template is not None:
        template.string("id", required=True, max_len=VIBER_TEMPLATE_ID_MAX)
        template.string("lang", required=True, max_len=LANGUAGE_CODE_MAX)
        template.string_map("params")
    carousel = node.child("carousel")
    if carousel is not None:
        for item in carousel.children(
            "items", required=True, min_items=CAROUSEL_ITEMS_MIN, max_items=CAROUSEL_ITEMS_MAX
        ):
            item.string(
                "title", required=True, min_len=CAROUSEL_TITLE_MIN, max_len=CAROUSEL_TITLE_MAX
            )
            item.url("image_url", required=True)
            for key in ("primary_button", "secondary_button"):
                button = item.child(key, required=key == "primary_button")
                if button is not None:
                    button.string("label", required=True, max_len=VIBER_BUTTON_TEXT_MAX)
                    button.url("action_url", required=True, web=False)
    _viber_shape(node)


def _viber_shape(node: Node) -> None:
    """Report a combination of content fields that Viber does not accept, as precisely as we can."""
    given = frozenset(key for key in VIBER_CONTENT if node.present(key))
    if given in VIBER_SHAPES:
        return
    shapes = "; ".join(VIBER_SHAPE_NAMES)
    if not given:
        node.missing(None, f"a viber message needs content; valid combinations: {shapes}")
        return
    add = [key for key in VIBER_CONTENT if key not in given and given | {key} in VIBER_SHAPES]
    drop = [key for key in VIBER_CONTENT if key in given and given - {key} in VIBER_SHAPES]
    combination = _shape_name(given)
    if len(add) == 1 and not drop:
        node.missing(add[0], f"{combination} also needs {add[0]}; valid combinations: {shapes}")
    elif len(drop) == 1 and not add:
        node.invalid(drop[0], f"{combination} is not a valid combination; valid: {shapes}")
    else:
        node.invalid(None, f"{combination} is not a valid combination; valid: {shapes}")


# -- whatsapp ------------------------------------------------------------------------------------

WHATSAPP_CONTENT = ("text", "template", "image", "video", "audio", "document", "sticker")
# media fields besides id/link, per kind ("filename" is the template-parameter spelling)
_MEDIA_FIELDS: dict[str, tuple[str, ...]] = {
    "image": ("caption", "mime_type"),
    "video": ("caption", "mime_type"),
    "audio": ("mime_type",),
    "document": ("caption", "mime_type", "file_name"),
    "sticker": ("mime_type",),
    "parameter": ("caption", "filename"),
}
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


def _whatsapp(node: Node) -> None:
    node.exactly_one(WHATSAPP_CONTENT, what="a whatsapp message")
    text = node.child("text")
    if text is not None:
        text.string("body", required=True, max_len=WHATSAPP_BODY_MAX)
        text.boolean("preview_url")
    template = node.child("template")
    if template is not None:
        _whatsapp_template(template)
    for kind in ("image", "video", "audio", "document", "sticker"):
        media = node.child(kind)
        if media is not None:
            _whatsapp_media(media, kind)


def _whatsapp_media(node: Node, kind: str) -> None:
    node.exactly_one(("id", "link"), what=f"{kind}")
    node.string("id", max_len=SHORT_MAX)
    node.url("link")
    for key in _MEDIA_FIELDS[kind]:
        node.string(key, max_len=WHATSAPP_CAPTION_MAX if key == "caption" else SHORT_MAX)
    if kind == "sticker":
        node.boolean("animated")


def _whatsapp_template(node: Node) -> None:
    node.string("name", required=True, max_len=WHATSAPP_TEMPLATE_NAME_MAX)
    language = node.child("language", required=True)
    if language is not None:
        language.string("code", required=True, max_len=LANGUAGE_CODE_MAX)
        language.string("policy", max_len=SHORT_MAX)
    for component in node.children("components", required=True, max_items=WHATSAPP_COMPONENTS_MAX):
        component.string("type", required=True, max_len=SHORT_MAX)
        component.string("sub_type", max_len=SHORT_MAX)
        component.integer("index", min_value=0)
        for parameter in component.children("parameters", max_items=WHATSAPP_PARAMETERS_MAX):
            _whatsapp_parameter(parameter)


def _whatsapp_parameter(node: Node) -> None:
    kind = node.string("type", required=True, choices=WHATSAPP_PARAMETER_TYPES)
    for key in ("text", "coupon_code", "payload"):
        node.string(key)
    currency = node.child("currency")
    if currency is not None:
        currency.string("fallback_value", required=True)
        code = currency.string("code", required=True)
        if code is not None and not _CURRENCY.fullmatch(code):
            currency.invalid("code", "code must be an ISO 4217 currency code such as EUR")
        _amount_1000(currency)
    date_time = node.child("date_time")
    if date_time is not None:
        date_time.string("fallback_value", required=True)
    for key in ("image", "document", "video"):
        media = node.child(key)
        if media is not None:
            _whatsapp_media(media, "parameter")
    if kind is not None and not node.present(kind):
        node.missing(kind, f"a parameter of type {kind} needs {kind}")


def _amount_1000(node: Node) -> None:
    """The client sends a string; WhatsApp itself takes an integer: accept both."""
    value = node.data.get("amount_1000")
    if value is None:
        node.missing("amount_1000", "amount_1000 is required")
    elif (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and _AMOUNT.fullmatch(value)
    ):
        node.out["amount_1000"] = value
    else:
        node.invalid("amount_1000", "amount_1000 must be an integer (the amount times 1000)")


# -- rcs -----------------------------------------------------------------------------------------


def _rcs(node: Node) -> None:
    node.exactly_one(("text", "rich_card", "content_info"), what="an rcs message")
    node.string("text", max_len=RCS_TEXT_MAX)
    rich_card = node.child("rich_card")
    if rich_card is not None:
        _rcs_rich_card(rich_card)
    content_info = node.child("content_info")
    if content_info is not None:
        _rcs_content_info(content_info)
    for suggestion in node.children("suggestions", max_items=RCS_SUGGESTIONS_MAX):
        _rcs_suggestion(suggestion)


def _rcs_rich_card(node: Node) -> None:
    node.exactly_one(("standalone_card", "carousel_card"), what="rich_card")
    standalone = node.child("standalone_card")
    if standalone is not None:
        standalone.string("card_orientation", required=True, choices=("VERTICAL", "HORIZONTAL"))
        standalone.string("thumbnail_image_alignment", required=True, choices=("LEFT", "RIGHT"))
        content = standalone.child("card_content", required=True)
        if content is not None:
            _rcs_card_content(content)
    carousel = node.child("carousel_card")
    if carousel is not None:
        carousel.string("card_width", required=True, choices=("SMALL", "MEDIUM"))
        for content in carousel.children(
            "card_contents", required=True, min_items=RCS_CAROUSEL_MIN, max_items=RCS_CAROUSEL_MAX
        ):
            _rcs_card_content(content)


def _rcs_card_content(node: Node) -> None:
    if not any(node.present(key) for key in ("title", "description", "media")):
        node.missing(None, "a card needs at least one of title, description, media")
    node.string("title", max_len=RCS_CARD_TITLE_MAX)
    node.string("description", max_len=RCS_CARD_DESCRIPTION_MAX)
    media = node.child("media")
    if media is not None:
        media.string("height", required=True, choices=("SHORT", "MEDIUM", "TALL"))
        content_info = media.child("content_info", required=True)
        if content_info is not None:
            _rcs_content_info(content_info)
    for suggestion in node.children("suggestions", max_items=RCS_CARD_SUGGESTIONS_MAX):
        _rcs_suggestion(suggestion)


def _rcs_content_info(node: Node) -> None:
    node.url("file_url", required=True)
    node.url("thumbnail_url")
    node.boolean("force_refresh", required=True)


RCS_ACTIONS = (
    "dial_action",
    "view_location_action",
    "create_calendar_event_action",
    "open_url_action",
    "share_location_action",
)


def _rcs_suggestion(node: Node) -> None:
    node.exactly_one(("reply", "action"), what="a suggestion")
    reply = node.child("reply")
    if reply is not None:
        reply.string("text", required=True, max_len=RCS_CHIP_TEXT_MAX)
        reply.string("postback_data", required=True, max_len=RCS_POSTBACK_MAX)
    action = node.child("action")
    if action is not None:
        action.string("text", required=True, max_len=RCS_CHIP_TEXT_MAX)
        action.string("postback_data", required=True, max_len=RCS_POSTBACK_MAX)
        action.url("fallback_url", web=False)
        action.exactly_one(RCS_ACTIONS, what="an action")
        _rcs_action_kinds(action)


def _rcs_action_kinds(node: Node) -> None:
    dial = node.child("dial_action")
    if dial is not None:
        number = dial.string("phone_number", required=True, max_len=SHORT_MAX)
        if number is not None:
            try:
                dial.out["phone_number"] = normalise_msisdn(number)
            except ValueError as exc:
                dial.invalid("phone_number", str(exc))
    location = node.child("view_location_action")
    if location is not None:
        location.exactly_one(("lat_long", "query"), what="view_location_action")
        lat_long = location.child("lat_long")
        if lat_long is not None:
            lat_long.number("latitude", required=True, min_value=-90, max_value=90)
            lat_long.number("longitude", required=True, min_value=-180, max_value=180)
        location.string("query")
        location.string("label")
    event = node.child("create_calendar_event_action")
    if event is not None:
        _rcs_calendar_event(event)
    open_url = node.child("open_url_action")
    if open_url is not None:
        open_url.url("url", required=True, web=False)
        open_url.string("description")
        open_url.string("application", required=True, choices=("BROWSER", "WEBVIEW"))
        open_url.string("webview_view_mode", choices=("FULL", "HALF", "TALL"))
    node.child("share_location_action")  # an empty object; its content is ignored


def _rcs_calendar_event(node: Node) -> None:
    times = []
    for key in ("start_time", "end_time"):
        value = node.string(key, required=True, max_len=SHORT_MAX)
        if value is not None:
            try:
                times.append(parse_time_to_send(value))
            except ValueError as exc:
                node.invalid(key, f"{key}: {exc}")
    if len(times) == 2 and times[1] < times[0]:
        node.invalid("end_time", "end_time must not be before start_time")
    node.string("title", required=True, max_len=RCS_EVENT_TITLE_MAX)
    node.string("description", required=True, max_len=RCS_EVENT_DESCRIPTION_MAX)


# -- telegram ------------------------------------------------------------------------------------

TELEGRAM_MEDIA = ("image_url", "document_url", "audio_url")


def _telegram(node: Node) -> None:
    node.string("text", max_len=TELEGRAM_TEXT_MAX)
    node.at_most_one(TELEGRAM_MEDIA, what="a telegram message")
    for key in TELEGRAM_MEDIA:
        node.url(key)
    if not any(node.present(key) for key in ("text", *TELEGRAM_MEDIA)):
        node.missing(
            "text", "a telegram message needs text, or one of " + ", ".join(TELEGRAM_MEDIA)
        )


_CONTENT: dict[str, Callable[[Node], None]] = {
    "sms": _sms,
    "viber": _viber,
    "whatsapp": _whatsapp,
    "rcs": _rcs,
    "telegram": _telegram,
}
