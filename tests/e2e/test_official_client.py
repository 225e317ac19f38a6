"""The official Python client `messente-api` 2.7.0 (API 2.1.0: SMS, Viber, WhatsApp, RCS) against
the real server: every call goes through the client's own models, so a response it cannot parse
fails here exactly as it would in a user's program."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from messente_api import (
    SMS,
    ApiClient,
    BulkMessagingApi,
    BulkOmnimessage,
    Configuration,
    DeliveryReportApi,
    DeliveryReportResponse,
    ErrorOmnichannel,
    Omnimessage,
    OmnimessageApi,
    OmniMessageCreateSuccessResponse,
    OmnimessageMessagesInner,
    Rcs,
    RcsCardContent,
    RcsCardOrientation,
    RcsContentInfo,
    RcsImageAlignment,
    RcsMedia,
    RcsMediaHeight,
    RcsOpenUrlAction,
    RcsOpenUrlApplication,
    RcsRichCard,
    RcsStandaloneCard,
    RcsSuggestedAction,
    RcsSuggestedReply,
    RcsSuggestion,
    Viber,
    ViberCarousel,
    ViberCarouselButton,
    ViberCarouselItem,
    ViberTemplate,
    WhatsApp,
    WhatsAppComponent,
    WhatsAppCurrency,
    WhatsAppLanguage,
    WhatsAppMedia,
    WhatsAppParameter,
    WhatsAppTemplate,
    WhatsAppText,
)
from messente_api.exceptions import (
    ApiException,
    BadRequestException,
    NotFoundException,
    UnauthorizedException,
)

from tests.e2e.server import Server
from tests.waiting import settle

# -- helpers ---------------------------------------------------------------------------------

_numbers = iter(range(1, 1_000_000))


def new_to() -> str:
    """A fresh Estonian mobile number (+37251...: this module's own range on the shared server),
    so each test sees only its own messages in the sandbox inbox."""
    return f"+37251{next(_numbers):06d}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def omni(*messages: Any, to: str, **kw: Any) -> Omnimessage:
    return Omnimessage(to=to, messages=[OmnimessageMessagesInner(m) for m in messages], **kw)


def inbox(server: Server, to: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server.url}/v1/sandbox/messages", params={"to": to}, auth=server.auth, timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


def wait_inbox(
    server: Server, to: str, count: int = 1, timeout: float = 3.0
) -> list[dict[str, Any]]:
    settle(lambda: len(inbox(server, to)) >= count, timeout)
    return inbox(server, to)


def wait_report(
    reports: DeliveryReportApi,
    omnimessage_id: str,
    done: Callable[[DeliveryReportResponse], bool],
    timeout: float = 3.0,
) -> DeliveryReportResponse:
    last: list[DeliveryReportResponse] = []

    def check() -> bool:
        report = reports.retrieve_delivery_report(omnimessage_id)
        assert isinstance(report, DeliveryReportResponse)
        last[:] = [report]
        return bool(done(report))

    settle(check, timeout)
    return last[0]


def first_delivered(report: DeliveryReportResponse) -> bool:
    return bool(report.statuses) and report.statuses[0].status == "DELIVRD"


def status_values(report: DeliveryReportResponse) -> list[str | None]:
    return [None if s.status is None else s.status.value for s in report.statuses]


def errors_of(exc: ApiException) -> list[dict[str, Any]]:
    """The error items of an exception's raw body, checked against the Messente shape."""
    assert exc.body, exc
    body = json.loads(exc.body)
    assert set(body) == {"errors"}, body
    items: list[dict[str, Any]] = body["errors"]
    assert items
    for item in items:
        assert set(item) == {"title", "detail", "code", "source"}, item
        assert isinstance(item["code"], str)
        assert isinstance(item["detail"], str) and item["detail"]
    # The client parsed the same body into its model.
    assert isinstance(exc.data, ErrorOmnichannel), exc.data
    return items


# -- fixtures ---------------------------------------------------------------------------------


@dataclass
class Clients:
    server: Server
    omni: OmnimessageApi
    reports: DeliveryReportApi
    bulk: BulkMessagingApi


def _api_client(server: Server, username: str, password: str) -> ApiClient:
    return ApiClient(Configuration(host=server.url + "/v1", username=username, password=password))


@pytest.fixture(scope="module")
def alice(shared_server: Server) -> Iterator[Clients]:
    with _api_client(shared_server, "alice", "alice-secret-pw") as client:
        yield Clients(
            shared_server,
            OmnimessageApi(client),
            DeliveryReportApi(client),
            BulkMessagingApi(client),
        )


@pytest.fixture(scope="module")
def bob(shared_server: Server) -> Iterator[Clients]:
    with _api_client(shared_server, "bob", "bob-secret-pw") as client:
        yield Clients(
            shared_server,
            OmnimessageApi(client),
            DeliveryReportApi(client),
            BulkMessagingApi(client),
        )


# -- sending every kind of message -------------------------------------------------------------


def rich_card() -> Rcs:
    return Rcs(
        sender="AliceCo",
        rich_card=RcsRichCard(
            standalone_card=RcsStandaloneCard(
                card_orientation=RcsCardOrientation.VERTICAL,
                thumbnail_image_alignment=RcsImageAlignment.LEFT,
                card_content=RcsCardContent(
                    title="Spring sale",
                    description="Everything at half price until Sunday",
                    media=RcsMedia(
                        height=RcsMediaHeight.MEDIUM,
                        content_info=RcsContentInfo(
                            file_url="https://example.com/sale.jpg", force_refresh=False
                        ),
                    ),
                    suggestions=[
                        RcsSuggestion(reply=RcsSuggestedReply(text="Remind me", postback_data="r")),
                        RcsSuggestion(
                            action=RcsSuggestedAction(
                                text="Open shop",
                                postback_data="open_shop",
                                open_url_action=RcsOpenUrlAction(
                                    url="https://example.com/shop",
                                    application=RcsOpenUrlApplication.BROWSER,
                                ),
                            )
                        ),
                    ],
                ),
            )
        ),
    )


def whatsapp_template() -> WhatsApp:
    return WhatsApp(
        template=WhatsAppTemplate(
            name="order_update",
            language=WhatsAppLanguage(code="en_US", policy="deterministic"),
            components=[
                WhatsAppComponent(
                    type="header",
                    parameters=[
                        WhatsAppParameter(
                            type="image", image=WhatsAppMedia(link="https://example.com/box.png")
                        )
                    ],
                ),
                WhatsAppComponent(
                    type="body",
                    parameters=[
                        WhatsAppParameter(type="text", text="Alice"),
                        WhatsAppParameter(
                            type="currency",
                            currency=WhatsAppCurrency(
                                fallback_value="EUR 12.50", code="EUR", amount_1000="12500"
                            ),
                        ),
                    ],
                ),
                WhatsAppComponent(
                    type="button",
                    sub_type="quick_reply",
                    index=0,
                    parameters=[WhatsAppParameter(type="payload", payload="TRACK_ORDER")],
                ),
            ],
        )
    )


@dataclass
class Case:
    messages: list[Any]
    sender: str  # expected in the response
    readable: list[str]  # must appear in the inbox text of the first (delivered) channel


CASES: dict[str, Callable[[], Case]] = {
    "sms": lambda: Case([SMS(text="Hello by SMS", sender="Tidings")], "Tidings", ["Hello by SMS"]),
    "viber_text": lambda: Case([Viber(text="Hello on Viber")], "AliceCo", ["Hello on Viber"]),
    "viber_template": lambda: Case(
        [
            Viber(
                template=ViberTemplate(
                    id="order_ready", lang="en", params={"name": "Alice", "order": "A-42"}
                )
            )
        ],
        "AliceCo",
        ["order_ready", "Alice", "A-42"],
    ),
    "viber_carousel": lambda: Case(
        [
            Viber(
                text="Today's picks",
                carousel=ViberCarousel(
                    items=[
                        ViberCarouselItem(
                            title="Flat white",
                            image_url="https://example.com/fw.jpg",
                            primary_button=ViberCarouselButton(
                                label="Order", action_url="https://example.com/fw"
                            ),
                        ),
                        ViberCarouselItem(
                            title="Cinnamon bun",
                            image_url="https://example.com/bun.jpg",
                            primary_button=ViberCarouselButton(
                                label="Order", action_url="https://example.com/bun"
                            ),
                            secondary_button=ViberCarouselButton(
                                label="Details", action_url="https://example.com/bun/info"
                            ),
                        ),
                    ]
                ),
            )
        ],
        "AliceCo",
        ["Today's picks", "Flat white", "Cinnamon bun"],
    ),
    "whatsapp_text": lambda: Case(
        [WhatsApp(text=WhatsAppText(body="Hello on WhatsApp", preview_url=False))],
        "AliceCo",
        ["Hello on WhatsApp"],
    ),
    "whatsapp_template": lambda: Case(
        [whatsapp_template()], "AliceCo", ["order_update", "Alice", "EUR 12.50", "TRACK_ORDER"]
    ),
    "rcs_text": lambda: Case(
        [
            Rcs(
                sender="AliceCo",
                text="Hello over RCS",
                suggestions=[
                    RcsSuggestion(reply=RcsSuggestedReply(text="Hi!", postback_data="hi"))
                ],
            )
        ],
        "AliceCo",
        ["Hello over RCS", "Hi!"],
    ),
    "rcs_rich_card": lambda: Case(
        [rich_card()], "AliceCo", ["Spring sale", "Remind me", "Open shop"]
    ),
    "fallback_chain": lambda: Case(
        [
            WhatsApp(text=WhatsAppText(body="Chain: WhatsApp first"), validity=5),
            Rcs(sender="AliceCo", text="Chain: RCS second", ttl=120),
            Viber(text="Chain: Viber third", validity=5),
            SMS(text="Chain: SMS last"),
        ],
        "AliceCo",
        ["Chain: WhatsApp first"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_send_read_status_and_inbox(alice: Clients, name: str) -> None:
    case = CASES[name]()
    to = new_to()
    response = alice.omni.send_omnimessage(omni(*case.messages, to=to))

    assert isinstance(response, OmniMessageCreateSuccessResponse)
    assert response.to == to
    uuid.UUID(response.omnimessage_id)
    channels = [m.channel for m in case.messages]
    assert [m.channel.value for m in response.messages] == channels
    assert all(m.sender == case.sender for m in response.messages)
    message_ids = [m.message_id for m in response.messages]
    assert len(set(message_ids)) == len(message_ids)
    for mid in message_ids:
        uuid.UUID(mid)

    report = wait_report(alice.reports, response.omnimessage_id, first_delivered)
    assert report.omnimessage_id == response.omnimessage_id
    assert report.to == to
    assert [s.channel.value for s in report.statuses] == channels
    assert [s.message_id for s in report.statuses] == message_ids
    # The first channel delivers in the sandbox, so later fallbacks are never attempted.
    assert status_values(report) == ["DELIVRD"] + [None] * (len(channels) - 1)
    first = report.statuses[0]
    assert first.err == 0
    assert first.error is None
    assert first.sender == case.sender
    assert first.timestamp is not None

    got = wait_inbox(alice.server, to)
    assert len(got) == 1, got
    msg = got[0]
    assert msg["omnimessage_id"] == response.omnimessage_id
    assert msg["message_id"] == message_ids[0]
    assert msg["channel"] == channels[0]
    assert msg["to"] == to
    assert msg["sender"] == case.sender
    assert isinstance(msg["text"], str)
    for fragment in case.readable:
        assert fragment in msg["text"], msg["text"]
    assert not msg["text"].lstrip().startswith("{"), "inbox text should be readable, not JSON"
    assert parse_ts(msg["delivered_at"]) <= utcnow()


def test_status_moves_forward_to_delivered(alice: Clients) -> None:
    response = alice.omni.send_omnimessage(omni(SMS(text="watch me"), to=new_to()))
    seen: list[str | None] = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        report = alice.reports.retrieve_delivery_report(response.omnimessage_id)
        seen.append(status_values(report)[0])
        if seen[-1] == "DELIVRD":
            break
        time.sleep(0.01)
    # Pending (null) or ACK first, then DELIVRD, and never backwards.
    assert seen[-1] == "DELIVRD", seen
    assert set(seen[:-1]) <= {None, "ACK"}, seen
    assert seen[:-1] == sorted(seen[:-1], key=lambda s: s is not None), seen
    # A final status stays final.
    time.sleep(0.1)
    report = alice.reports.retrieve_delivery_report(response.omnimessage_id)
    assert status_values(report) == ["DELIVRD"]


# -- bulk ------------------------------------------------------------------------------------


def test_bulk_with_one_valid_and_one_invalid_item(alice: Clients) -> None:
    to = new_to()
    result = alice.bulk.send_bulk_omnimessage(
        BulkOmnimessage(
            messages=[
                omni(SMS(text="Bulk one"), to=to),
                omni(SMS(text="Bulk two"), to="not-a-number"),
            ]
        )
    )
    assert len(result.messages) == 2
    ok, bad = (item.actual_instance for item in result.messages)
    assert isinstance(ok, OmniMessageCreateSuccessResponse)
    assert ok.to == to
    assert [m.channel.value for m in ok.messages] == ["sms"]
    assert isinstance(bad, ErrorOmnichannel)
    assert len(bad.errors) >= 1
    error = bad.errors[0]
    assert error.code.value in {"105", "106"}
    assert error.source == "messages[1].to"

    report = wait_report(alice.reports, ok.omnimessage_id, first_delivered)
    assert status_values(report) == ["DELIVRD"]
    got = wait_inbox(alice.server, to)
    assert [(m["omnimessage_id"], m["text"]) for m in got] == [(ok.omnimessage_id, "Bulk one")]


def test_bulk_item_missing_text_is_missing_data(alice: Clients) -> None:
    result = alice.bulk.send_bulk_omnimessage(
        BulkOmnimessage(
            messages=[
                omni(SMS(text="fine"), to=new_to()),
                omni(SMS.model_construct(channel="sms"), to=new_to()),
            ]
        )
    )
    bad = result.messages[1].actual_instance
    assert isinstance(bad, ErrorOmnichannel)
    assert [(e.code.value, e.source) for e in bad.errors] == [
        ("106", "messages[1].messages[0].text")
    ]


# -- scheduling and cancelling ---------------------------------------------------------------

LEAD = dt.timedelta(seconds=1.5)
LATE_LIMIT = dt.timedelta(milliseconds=100)


def test_scheduled_messages_fire_on_time(alice: Clients) -> None:
    """An aware `time_to_send` (here UTC+02:00) and a naive one (UTC) fire at their instant."""
    when = utcnow() + LEAD
    aware = when.astimezone(dt.timezone(dt.timedelta(hours=2)))
    naive = when.replace(tzinfo=None)
    to_aware, to_naive = new_to(), new_to()
    sent = {
        to_aware: alice.omni.send_omnimessage(
            omni(SMS(text="aware"), to=to_aware, time_to_send=aware)
        ),
        to_naive: alice.omni.send_omnimessage(
            omni(Viber(text="naive"), to=to_naive, time_to_send=naive)
        ),
    }
    for response in sent.values():
        report = alice.reports.retrieve_delivery_report(response.omnimessage_id)
        assert status_values(report) == [None]

    time.sleep(max(0.0, (when - utcnow()).total_seconds() - 0.3))
    assert utcnow() < when, "too slow to look before the scheduled time"
    for to in sent:
        early = inbox(alice.server, to)
        if utcnow() < when:  # the answer came back before `when`: it must be empty
            assert early == [], "a scheduled message arrived early"

    for to, response in sent.items():
        got = wait_inbox(alice.server, to, timeout=(when - utcnow()).total_seconds() + 2)
        assert [m["omnimessage_id"] for m in got] == [response.omnimessage_id]
        delivered = parse_ts(got[0]["delivered_at"])
        assert when <= delivered, f"fired {when - delivered} early"
        assert delivered - when <= LATE_LIMIT, f"fired {delivered - when} late"
        report = wait_report(alice.reports, response.omnimessage_id, first_delivered)
        assert status_values(report) == ["DELIVRD"]


def test_cancel_scheduled_message(alice: Clients) -> None:
    when = utcnow() + LEAD
    to = new_to()
    response = alice.omni.send_omnimessage(
        omni(SMS(text="never"), Viber(text="never either"), to=to, time_to_send=when)
    )
    assert alice.omni.cancel_scheduled_message(response.omnimessage_id) == {}

    report = alice.reports.retrieve_delivery_report(response.omnimessage_id)
    assert [s.channel.value for s in report.statuses] == ["sms", "viber"]
    assert [s.message_id for s in report.statuses] == [m.message_id for m in response.messages]
    assert status_values(report) == ["DELETED", "DELETED"]

    # Repeating the cancel is safe (202 `{}` again) and changes nothing.
    again = alice.omni.cancel_scheduled_message_with_http_info(response.omnimessage_id)
    assert again.status_code == 202
    assert again.data == {}

    time.sleep(max(0.0, (when - utcnow()).total_seconds()) + 0.3)
    assert inbox(alice.server, to) == []
    report = alice.reports.retrieve_delivery_report(response.omnimessage_id)
    assert status_values(report) == ["DELETED", "DELETED"]


def test_cancel_of_a_sent_message_is_not_found(alice: Clients) -> None:
    to = new_to()
    response = alice.omni.send_omnimessage(omni(SMS(text="already gone"), to=to))
    wait_report(alice.reports, response.omnimessage_id, first_delivered)
    with pytest.raises(NotFoundException) as info:
        alice.omni.cancel_scheduled_message(response.omnimessage_id)
    assert info.value.status == 404
    assert [(e["code"], e["source"]) for e in errors_of(info.value)] == [("101", None)]
    # ... and the message is still reported as delivered.
    report = alice.reports.retrieve_delivery_report(response.omnimessage_id)
    assert status_values(report) == ["DELIVRD"]


def test_unknown_id_is_not_found(alice: Clients) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(NotFoundException) as info:
        alice.reports.retrieve_delivery_report(unknown)
    assert errors_of(info.value)[0]["code"] == "101"
    with pytest.raises(NotFoundException):
        alice.omni.cancel_scheduled_message(unknown)


# -- authentication and ownership ------------------------------------------------------------


def test_wrong_password_is_unauthorized(shared_server: Server, alice: Clients) -> None:
    sent = alice.omni.send_omnimessage(omni(SMS(text="mine"), to=new_to()))
    with _api_client(shared_server, "alice", "not-the-password") as client:
        with pytest.raises(UnauthorizedException) as info:
            OmnimessageApi(client).send_omnimessage(omni(SMS(text="x"), to=new_to()))
        assert info.value.status == 401
        assert [(e["code"], e["source"]) for e in errors_of(info.value)] == [("103", None)]
        with pytest.raises(UnauthorizedException):
            DeliveryReportApi(client).retrieve_delivery_report(sent.omnimessage_id)
        with pytest.raises(UnauthorizedException):
            OmnimessageApi(client).cancel_scheduled_message(sent.omnimessage_id)
    with (
        _api_client(shared_server, "nobody", "alice-secret-pw") as client,
        pytest.raises(UnauthorizedException),
    ):
        OmnimessageApi(client).send_omnimessage(omni(SMS(text="x"), to=new_to()))


def test_another_account_sees_nothing(alice: Clients, bob: Clients) -> None:
    to = new_to()
    later = alice.omni.send_omnimessage(
        omni(SMS(text="later"), to=to, time_to_send=utcnow() + dt.timedelta(hours=1))
    )
    now = alice.omni.send_omnimessage(omni(SMS(text="now"), to=to))
    for response in (later, now):
        with pytest.raises(NotFoundException) as info:
            bob.reports.retrieve_delivery_report(response.omnimessage_id)
        assert errors_of(info.value)[0]["code"] == "101"
        with pytest.raises(NotFoundException) as info:
            bob.omni.cancel_scheduled_message(response.omnimessage_id)
        assert errors_of(info.value)[0]["code"] == "101"
    # Bob's cancel did not touch Alice's scheduled message; she can still cancel it.
    assert status_values(alice.reports.retrieve_delivery_report(later.omnimessage_id)) == [None]
    assert alice.omni.cancel_scheduled_message(later.omnimessage_id) == {}
    # Bob's sandbox view does not show Alice's messages either.
    r = httpx.get(
        f"{bob.server.url}/v1/sandbox/messages",
        params={"to": to},
        auth=("bob", "bob-secret-pw"),
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json()["messages"] == []


# -- invalid input ----------------------------------------------------------------------------

INVALID: dict[str, tuple[Callable[[str], Omnimessage], str, str]] = {
    # name: (build(to), code, source)
    "missing_text": (
        lambda to: omni(SMS.model_construct(channel="sms"), to=to),
        "106",
        "messages[0].text",
    ),
    "ttl_and_validity": (
        lambda to: omni(SMS(text="x", ttl=600, validity=10), to=to),
        "105",
        "messages[0].ttl|messages[0].validity",
    ),
    "duplicate_channel": (
        lambda to: omni(SMS(text="a"), SMS(text="b"), to=to),
        "105",
        "messages[1].channel",
    ),
    "rcs_without_sender": (
        lambda to: omni(Rcs.model_construct(channel="rcs", text="hi"), to=to),
        "106",
        "messages[0].sender",
    ),
    "time_to_send_beyond_a_year": (
        lambda to: omni(SMS(text="x"), to=to, time_to_send=utcnow() + dt.timedelta(days=367)),
        "105",
        "time_to_send",
    ),
    "sender_of_12_letters": (
        lambda to: omni(SMS(text="x", sender="ABCDEFGHIJKL"), to=to),
        "105",
        "messages[0].sender",
    ),
    "bad_to": (lambda to: omni(SMS(text="x"), to="+372 5123 4567"), "105", "to"),
    "to_not_a_number": (lambda to: omni(SMS(text="x"), to="hello"), "105", "to"),
    "no_messages": (lambda to: Omnimessage(to=to, messages=[]), "106|105", "messages"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_input_is_bad_request(alice: Clients, name: str) -> None:
    build, code, source = INVALID[name]
    to = new_to()
    with pytest.raises(BadRequestException) as info:
        alice.omni.send_omnimessage(build(to))
    assert info.value.status == 400
    items = errors_of(info.value)
    assert any(
        item["code"] in code.split("|") and item["source"] in source.split("|") for item in items
    ), items
    # Nothing was sent.
    assert inbox(alice.server, to) == []


# -- smaller contract points -------------------------------------------------------------------


@pytest.mark.parametrize("autoconvert", ["true", "false", "full"])
def test_sms_autoconvert_values_the_client_sends(alice: Clients, autoconvert: str) -> None:
    # 2.7.0's enum is full/"true"/"false" (a YAML 1.1 slip upstream; it refuses on/off itself).
    to = new_to()
    response = alice.omni.send_omnimessage(
        omni(SMS(text="autoconvert", autoconvert=autoconvert), to=to)
    )
    report = wait_report(alice.reports, response.omnimessage_id, first_delivered)
    assert status_values(report) == ["DELIVRD"]


def test_time_to_send_in_the_past_sends_now(alice: Clients) -> None:
    to = new_to()
    past = utcnow() - dt.timedelta(days=3)
    response = alice.omni.send_omnimessage(omni(SMS(text="overdue"), to=to, time_to_send=past))
    report = wait_report(alice.reports, response.omnimessage_id, first_delivered)
    assert status_values(report) == ["DELIVRD"]
    assert [m["text"] for m in wait_inbox(alice.server, to)] == ["overdue"]
