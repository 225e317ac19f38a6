"""The RCS Business Messaging channel object (messente-api 2.6.0+)."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Interval, Len
from pydantic import Field

from tidings.core.contract.channels import ChannelMessage
from tidings.core.contract.rules import AtLeastOne, ExactlyOne, NotBefore, Wire
from tidings.core.contract.types import Link, PhoneNumber, RcsSender, Text, TimeText, Url

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
