"""The Viber channel object (messente-api 2.6.0+ for templates and carousels)."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Interval, Len
from pydantic import Field

from tidings.core.contract.channels import ChannelMessage
from tidings.core.contract.rules import Shapes, Wire
from tidings.core.contract.types import DEFAULT_MAX_LEN, LANGUAGE_CODE_MAX, Link, Url

VIBER_TEXT_MAX = 1000  # legacy Messente docs
VIBER_BUTTON_TEXT_MAX = 30  # ours, after Viber's button caption limit; also carousel labels
VIBER_VIDEO_MAX_BYTES = 200 * 1024 * 1024  # 209715200
VIBER_VIDEO_MAX_SECONDS = 600
VIBER_TEMPLATE_ID_MAX = 200  # ours
VIBER_TEMPLATE_PARAMS_MAX = 100  # ours
CAROUSEL_TITLE_MIN, CAROUSEL_TITLE_MAX = 2, 38
CAROUSEL_ITEMS_MIN, CAROUSEL_ITEMS_MAX = 2, 5


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
