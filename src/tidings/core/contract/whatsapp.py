"""The WhatsApp channel object: text, a template, or one medium."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Len
from pydantic import Field

from tidings.core.contract.channels import ChannelMessage
from tidings.core.contract.rules import ExactlyOne, TypeNamesField, Wire
from tidings.core.contract.types import (
    LANGUAGE_CODE_MAX,
    IntegerOrDigits,
    Short,
    Text,
    Url,
    matches,
)

WHATSAPP_BODY_MAX = 4096  # WhatsApp Cloud API text limit
WHATSAPP_CAPTION_MAX = 1024  # WhatsApp Cloud API caption limit
WHATSAPP_TEMPLATE_NAME_MAX = 512  # WhatsApp Cloud API template name limit
WHATSAPP_COMPONENTS_MAX = 50  # ours
WHATSAPP_PARAMETERS_MAX = 100  # ours, per component


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
