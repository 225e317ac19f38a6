from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.core.errors import RequestInvalid
from tidings.core.model import ChannelRequest, Limits, OmnimessageRequest
from tidings.core.validation import validate_bulk, validate_omnimessage

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
LIMITS = Limits()
TO = "+37251234567"
INVALID, MISSING = "105", "106"

Json = dict[str, Any]


def body(*messages: Json, **fields: Any) -> Json:
    return {"to": TO, "messages": list(messages), **fields}


def ok(data: object, limits: Limits = LIMITS) -> OmnimessageRequest:
    return validate_omnimessage(data, now=NOW, limits=limits)


def one(message: Json) -> ChannelRequest:
    """Validate a single channel object and return its ChannelRequest."""
    result = ok(body(message))
    assert len(result.messages) == 1
    return result.messages[0]


def errors(data: object, prefix: str = "", limits: Limits = LIMITS) -> list[tuple[str, str | None]]:
    with pytest.raises(RequestInvalid) as info:
        validate_omnimessage(data, now=NOW, limits=limits, prefix=prefix)
    assert info.value.errors, "RequestInvalid must carry at least one error"
    for item in info.value.errors:
        assert item.title == {"105": "Invalid data", "106": "Missing data"}[item.code]
        assert item.detail
    return [(item.code, item.source) for item in info.value.errors]


def error(data: object) -> tuple[str, str | None]:
    found = errors(data)
    assert len(found) == 1, found
    return found[0]


def sms(**fields: Any) -> Json:
    return {"channel": "sms", "text": "Hello", **fields}


# ------------------------------------------------------------------------------------------------
# top level
# ------------------------------------------------------------------------------------------------


def test_minimal_sms_defaults() -> None:
    result = ok(body(sms()))
    assert result == OmnimessageRequest(
        to=TO,
        messages=(ChannelRequest("sms", None, 360 * 60, {"text": "Hello"}),),
        time_to_send=None,
        dlr_url=None,
        text_store="plaintext",
        priority="regular",
    )
    assert result.extra == {}


def test_full_request_keeps_fallback_order() -> None:
    result = ok(
        body(
            {"channel": "whatsapp", "text": {"body": "hi"}, "ttl": 60},
            {"channel": "rcs", "sender": "Shop", "text": "hi", "validity": 2},
            {"channel": "viber", "text": "hi", "sender": "Shop"},
            {"channel": "telegram", "text": "hi"},
            sms(sender="+37250000000"),
            time_to_send="2026-02-01T10:00:00+02:00",
            dlr_url="https://hooks.example.com/dlr?x=1",
            text_store="sha256",
            priority="high",
        )
    )
    assert [m.channel for m in result.messages] == ["whatsapp", "rcs", "viber", "telegram", "sms"]
    assert [m.validity_s for m in result.messages] == [60, 120, 21600, 21600, 21600]
    assert [m.sender for m in result.messages] == [None, "Shop", "Shop", None, "+37250000000"]
    assert result.time_to_send == datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    assert result.dlr_url == "https://hooks.example.com/dlr?x=1"
    assert (result.text_store, result.priority) == ("sha256", "high")


def test_to_is_normalised() -> None:
    assert ok({"to": "37251234567", "messages": [sms()]}).to == TO


def test_unknown_top_level_fields_are_ignored() -> None:
    result = ok(body(sms(), foo=1, additional_properties={"a": 1}))
    assert result.extra == {}


@pytest.mark.parametrize("data", [None, [], [body(sms())], "x", 1, True, 1.5])
def test_body_not_an_object(data: object) -> None:
    assert error(data) == (INVALID, None)


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (None, (MISSING, "to")),
        ("", (INVALID, "to")),
        (37251234567, (INVALID, "to")),
        ("+372 5123 4567", (INVALID, "to")),
        ("+999123456", (INVALID, "to")),
        ("+1" + "2" * 40, (INVALID, "to")),
        ("hello", (INVALID, "to")),
    ],
)
def test_to(to: object, expected: tuple[str, str]) -> None:
    data = body(sms())
    data["to"] = to
    assert error(data) == expected
    del data["to"]
    assert error(data) == (MISSING, "to")


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (None, (MISSING, "messages")),
        ([], (INVALID, "messages")),
        ("sms", (INVALID, "messages")),
        ({"channel": "sms", "text": "x"}, (INVALID, "messages")),
        ([sms()] * 11, (INVALID, "messages")),
        ([None], (INVALID, "messages[0]")),
        ([sms(), "viber"], (INVALID, "messages[1]")),
        ([sms(), [sms()]], (INVALID, "messages[1]")),
    ],
)
def test_messages_list(messages: object, expected: tuple[str, str]) -> None:
    assert error({"to": TO, "messages": messages}) == expected


def test_missing_messages_key() -> None:
    assert error({"to": TO}) == (MISSING, "messages")


def test_duplicate_channel_reported_on_each_repeat() -> None:
    found = errors(body(sms(), {"channel": "viber", "text": "x"}, sms(text="again"), sms()))
    assert found == [(INVALID, "messages[2].channel"), (INVALID, "messages[3].channel")]


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (None, (MISSING, "messages[0].channel")),
        ("fax", (INVALID, "messages[0].channel")),
        ("SMS", (INVALID, "messages[0].channel")),
        ("", (INVALID, "messages[0].channel")),
        (1, (INVALID, "messages[0].channel")),
        (["sms"], (INVALID, "messages[0].channel")),
    ],
)
def test_bad_channel(channel: object, expected: tuple[str, str]) -> None:
    assert error(body({"channel": channel, "text": "x"})) == expected


def test_missing_channel_key() -> None:
    assert error(body({"text": "hello"})) == (MISSING, "messages[0].channel")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-01T10:00", datetime(2026, 2, 1, 10, 0, tzinfo=UTC)),
        ("2026-02-01T10:00:00", datetime(2026, 2, 1, 10, 0, tzinfo=UTC)),
        ("2026-02-01T10:00:07+04:00", datetime(2026, 2, 1, 6, 0, 7, tzinfo=UTC)),
        ("2026-02-01T10:00:07Z", datetime(2026, 2, 1, 10, 0, 7, tzinfo=UTC)),
        ("2026-02-01T10:00:05.123456+04:00", datetime(2026, 2, 1, 6, 0, 5, 123456, tzinfo=UTC)),
        ("2019-06-22T09:05", datetime(2019, 6, 22, 9, 5, tzinfo=UTC)),  # past: kept, sent now
        ("2026-01-15T12:00", NOW),  # now
        ("2027-01-15T12:00", NOW + timedelta(days=365)),  # exactly the horizon
        ("2027-01-15T15:59:59+04:00", NOW + timedelta(days=365) - timedelta(seconds=1)),
        (None, None),
    ],
)
def test_time_to_send_accepted(value: object, expected: datetime | None) -> None:
    assert ok(body(sms(), time_to_send=value)).time_to_send == expected


@pytest.mark.parametrize(
    "value",
    [
        "2027-01-15T12:00:01",  # one second past the horizon
        "2027-01-15T12:00:00-00:01",  # the same instant via an offset
        "2030-01-01T00:00Z",  # years ahead
        "2019-06-22",
        "garbage",
        "2019-13-01T00:00",
        "10000-01-01T00:00",
        "2026-02-01 10:00",
        1769940000,
        True,
        {"at": "2026-02-01T10:00"},
    ],
)
def test_time_to_send_rejected(value: object) -> None:
    assert error(body(sms(), time_to_send=value)) == (INVALID, "time_to_send")


def test_time_to_send_horizon_is_configurable_and_naive_now_is_utc() -> None:
    limits = Limits(max_schedule_ahead_s=3600)
    data = body(sms(), time_to_send="2026-01-15T13:00:01")
    found = errors(data, limits=limits)
    assert found == [(INVALID, "time_to_send")]
    naive = validate_omnimessage(
        body(sms(), time_to_send="2026-01-15T13:00"), now=NOW.replace(tzinfo=None), limits=limits
    )
    assert naive.time_to_send == datetime(2026, 1, 15, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/dlr",
        "http://example.com:8080/dlr?a=b#frag",
        "HTTPS://EXAMPLE.COM/",
        "http://127.0.0.1:9000/hook",  # the SSRF guard lives in webhooks/, not here
        "http://[::1]:9000/hook",
        "https://exämple.com/dlr",
        "https://example.com/" + "a" * 2000,
    ],
)
def test_dlr_url_accepted(url: str) -> None:
    assert ok(body(sms(), dlr_url=url)).dlr_url == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x",
        "ftp://example.com/dlr",
        "mailto:a@example.com",
        "example.com/dlr",
        "/dlr",
        "http://",
        "http:///path",
        "https://example.com/a b",
        " https://example.com/",
        "https://example.com/\n",
        "http://example.com:99999/",
        "http://example.com:port/",
        "https://example.com/" + "a" * 2030,
        "",
        42,
        ["https://example.com"],
    ],
)
def test_dlr_url_rejected(url: object) -> None:
    assert error(body(sms(), dlr_url=url)) == (INVALID, "dlr_url")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("text_store", "plaintext", "plaintext"),
        ("text_store", "sha256", "sha256"),
        ("text_store", "nostore", "nostore"),
        ("text_store", None, "plaintext"),
        ("priority", "low", "low"),
        ("priority", "regular", "regular"),
        ("priority", "high", "high"),
        ("priority", None, "regular"),
    ],
)
def test_enums_accepted(field: str, value: object, expected: str) -> None:
    assert getattr(ok(body(sms(), **{field: value})), field) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text_store", "SHA256"),
        ("text_store", "md5"),
        ("text_store", True),
        ("text_store", ""),
        ("priority", "urgent"),
        ("priority", "HIGH"),
        ("priority", 2),
        ("priority", ["high"]),
    ],
)
def test_enums_rejected(field: str, value: object) -> None:
    assert error(body(sms(), **{field: value})) == (INVALID, field)


def test_all_problems_reported_together() -> None:
    data = {
        "to": "nope",
        "messages": [{"channel": "sms"}, {"channel": "viber", "text": 5}, {"channel": "fax"}],
        "priority": "urgent",
        "dlr_url": "ftp://x",
        "time_to_send": "2019-06-22",
    }
    assert errors(data) == [
        (INVALID, "to"),
        (MISSING, "messages[0].text"),
        (INVALID, "messages[1].text"),
        (INVALID, "messages[2].channel"),
        (INVALID, "time_to_send"),
        (INVALID, "dlr_url"),
        (INVALID, "priority"),
    ]


def test_errors_are_capped() -> None:
    bad = {"channel": "sms", "text": 1, "autoconvert": 1, "udh": 1, "validity": "x", "sender": 1}
    found = errors(body(*[dict(bad) for _ in range(10)]))
    assert len(found) == 20


def test_prefix_is_prepended() -> None:
    found = errors({"messages": [sms(text="")]}, prefix="messages[3].")
    assert found == [(MISSING, "messages[3].to"), (INVALID, "messages[3].messages[0].text")]
    assert errors("x", prefix="messages[3].") == [(INVALID, "messages[3]")]


# ------------------------------------------------------------------------------------------------
# fields every channel object has: sender, validity, ttl
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    ["A", "CoffeeShop", "Coffee Shop", "ABCDEFGHIJK", "Shop 24", "1", "+37251234567",
     "123456789012345", "+123456789012345", "1234"],
)  # fmt: skip
def test_sender_accepted(sender: str) -> None:
    assert one(sms(sender=sender)).sender == sender


@pytest.mark.parametrize(
    "sender",
    [
        "ABCDEFGHIJKL",  # 12 characters
        "1234567890123456",  # 16 digits
        "+1234567890123456",
        "123 456",  # digits and spaces only
        "   ",
        "",
        "Café",
        "Shop-24",
        "Shop_24",
        "Shop!",
        "++123",
        "12+3",
        "A" * 300,
        12345,
        True,
        ["Shop"],
    ],
)
def test_sender_rejected(sender: object) -> None:
    assert error(body(sms(sender=sender))) == (INVALID, "messages[0].sender")


def test_sender_null_means_default() -> None:
    assert one(sms(sender=None)).sender is None


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [
        ({}, 21600),
        ({"validity": None}, 21600),
        ({"validity": 1}, 60),
        ({"validity": 10}, 600),
        ({"validity": 10080}, 604800),
        ({"ttl": 1}, 1),
        ({"ttl": 30}, 30),
        ({"ttl": 604800}, 604800),
        ({"ttl": None, "validity": 5}, 300),
    ],
)
def test_validity_and_ttl(fields: Json, seconds: int) -> None:
    assert one(sms(**fields)).validity_s == seconds


@pytest.mark.parametrize(
    ("fields", "source"),
    [
        ({"validity": 10, "ttl": 600}, "messages[0].ttl"),
        ({"validity": True}, "messages[0].validity"),
        ({"validity": False}, "messages[0].validity"),
        ({"validity": 1.5}, "messages[0].validity"),
        ({"validity": 10.0}, "messages[0].validity"),
        ({"validity": "10"}, "messages[0].validity"),
        ({"validity": 0}, "messages[0].validity"),
        ({"validity": -5}, "messages[0].validity"),
        ({"validity": 10081}, "messages[0].validity"),
        ({"validity": 10**30}, "messages[0].validity"),
        ({"ttl": True}, "messages[0].ttl"),
        ({"ttl": "60"}, "messages[0].ttl"),
        ({"ttl": 0}, "messages[0].ttl"),
        ({"ttl": 604801}, "messages[0].ttl"),
        ({"ttl": [60]}, "messages[0].ttl"),
    ],
)
def test_validity_and_ttl_rejected(fields: Json, source: str) -> None:
    assert error(body(sms(**fields))) == (INVALID, source)


def test_limits_drive_validity() -> None:
    limits = Limits(default_validity_s=120, max_validity_s=600)
    assert ok(body(sms()), limits=limits).messages[0].validity_s == 120
    assert errors(body(sms(validity=11)), limits=limits) == [(INVALID, "messages[0].validity")]


def test_envelope_fields_are_not_content() -> None:
    request = one(sms(sender="Shop", validity=5, additional_properties={"x": 1}, extra=1))
    assert request.content == {"text": "Hello"}


# ------------------------------------------------------------------------------------------------
# sms
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "content"),
    [
        ({"text": "Hello"}, {"text": "Hello"}),
        ({"text": "Tere! 🎉 Здравствуйте 你好"}, {"text": "Tere! 🎉 Здравствуйте 你好"}),
        ({"text": "x" * 1600}, {"text": "x" * 1600}),
        ({"text": "🎉" * 1600}, {"text": "🎉" * 1600}),
        ({"text": " "}, {"text": " "}),
        ({"text": "a", "autoconvert": "on"}, {"text": "a", "autoconvert": "on"}),
        ({"text": "a", "autoconvert": "full"}, {"text": "a", "autoconvert": "full"}),
        ({"text": "a", "autoconvert": "off"}, {"text": "a", "autoconvert": "off"}),
        ({"text": "a", "autoconvert": "true"}, {"text": "a", "autoconvert": "on"}),
        ({"text": "a", "autoconvert": "false"}, {"text": "a", "autoconvert": "off"}),
        ({"text": "a", "autoconvert": None}, {"text": "a"}),
        ({"text": "a", "udh": "050003CC0201"}, {"text": "a", "udh": "050003CC0201"}),
        ({"text": "a", "udh": "050003cc0201"}, {"text": "a", "udh": "050003cc0201"}),
        ({"text": "a", "udh": "ab" * 140}, {"text": "a", "udh": "ab" * 140}),
    ],
)
def test_sms_accepted(fields: Json, content: Json) -> None:
    assert one({"channel": "sms", **fields}).content == content


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (MISSING, "messages[0].text")),
        ({"text": None}, (MISSING, "messages[0].text")),
        ({"text": ""}, (INVALID, "messages[0].text")),
        ({"text": 123}, (INVALID, "messages[0].text")),
        ({"text": ["a"]}, (INVALID, "messages[0].text")),
        ({"text": {"body": "a"}}, (INVALID, "messages[0].text")),
        ({"text": "x" * 1601}, (INVALID, "messages[0].text")),
        ({"text": "x" * 1_000_000}, (INVALID, "messages[0].text")),
        ({"text": "a", "autoconvert": "ON"}, (INVALID, "messages[0].autoconvert")),
        ({"text": "a", "autoconvert": True}, (INVALID, "messages[0].autoconvert")),
        ({"text": "a", "autoconvert": "yes"}, (INVALID, "messages[0].autoconvert")),
        ({"text": "a", "udh": "xyz1"}, (INVALID, "messages[0].udh")),
        ({"text": "a", "udh": "050"}, (INVALID, "messages[0].udh")),
        ({"text": "a", "udh": ""}, (INVALID, "messages[0].udh")),
        ({"text": "a", "udh": "ab" * 141}, (INVALID, "messages[0].udh")),
        ({"text": "a", "udh": 5}, (INVALID, "messages[0].udh")),
    ],
)
def test_sms_rejected(fields: Json, expected: tuple[str, str]) -> None:
    assert error(body({"channel": "sms", **fields})) == expected


# ------------------------------------------------------------------------------------------------
# viber
# ------------------------------------------------------------------------------------------------

IMG = "https://cdn.example.com/a.png"
VIDEO = {
    "url": "https://cdn.example.com/v.mp4",
    "thumbnail": IMG,
    "file_size": 1000,
    "duration": 30,
}
BUTTON = {"button_text": "Open", "button_url": "https://example.com/shop"}
TEMPLATE = {"id": "123", "lang": "en", "params": {"name": "Ann", "empty": ""}}


def carousel_item(title: str = "Coffee", **extra: Any) -> Json:
    return {
        "title": title,
        "image_url": IMG,
        "primary_button": {"label": "Buy", "action_url": "https://example.com/buy"},
        **extra,
    }


CAROUSEL = {"items": [carousel_item(), carousel_item("Tea")]}


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "hi"},
        {"text": "x" * 1000},
        {"image_url": IMG},
        {"text": "hi", **BUTTON},
        {"text": "hi", "image_url": IMG, **BUTTON},
        {"video": VIDEO},
        {"video": VIDEO, "text": "hi"},
        {"video": VIDEO, "text": "hi", "button_text": "Watch"},
        {"video": VIDEO, "text": "hi", **BUTTON},
        {"video": {**VIDEO, "file_size": 209715200, "duration": 600}},
        {"template": TEMPLATE},
        {"template": {"id": "123", "lang": "en"}},
        {"carousel": CAROUSEL},
        {"carousel": CAROUSEL, "text": "Pick one"},
        {"carousel": {"items": [carousel_item("ab"), carousel_item("x" * 38)] + [carousel_item()] * 3}},
        {"carousel": {"items": [carousel_item(secondary_button={"label": "More",
                                                                "action_url": "viber://chat"}),
                                carousel_item()]}},
        {"text": "hi", "button_text": "Call", "button_url": "tel:+37251234567"},
    ],
)  # fmt: skip
def test_viber_accepted(fields: Json) -> None:
    request = one({"channel": "viber", **fields})
    assert request.content == fields


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (MISSING, "messages[0]")),
        ({"text": None}, (MISSING, "messages[0]")),
        ({"button_text": "Open", "button_url": "https://x.example"}, (MISSING, "messages[0].text")),
        ({"image_url": IMG, "button_text": "Open"}, (INVALID, "messages[0].button_text")),
        ({"text": "hi", "image_url": IMG}, (INVALID, "messages[0]")),
        ({"text": "hi", "button_text": "Open"}, (INVALID, "messages[0]")),
        ({"template": TEMPLATE, "text": "hi"}, (INVALID, "messages[0]")),
        ({"template": TEMPLATE, "carousel": CAROUSEL}, (INVALID, "messages[0]")),
        ({"video": VIDEO, "image_url": IMG}, (INVALID, "messages[0]")),
        ({"text": "x" * 1001}, (INVALID, "messages[0].text")),
        ({"text": 5}, (INVALID, "messages[0].text")),
        ({"image_url": "ftp://x/a.png"}, (INVALID, "messages[0].image_url")),
        ({"image_url": "a.png"}, (INVALID, "messages[0].image_url")),
        ({"text": "hi", "button_text": "x" * 31, "button_url": "https://x.example"},
         (INVALID, "messages[0].button_text")),
        ({"text": "hi", "button_text": "Go", "button_url": "not a url"},
         (INVALID, "messages[0].button_url")),
        ({"video": {**VIDEO, "file_size": 209715201}}, (INVALID, "messages[0].video.file_size")),
        ({"video": {**VIDEO, "file_size": True}}, (INVALID, "messages[0].video.file_size")),
        ({"video": {**VIDEO, "file_size": "1000"}}, (INVALID, "messages[0].video.file_size")),
        ({"video": {**VIDEO, "duration": 601}}, (INVALID, "messages[0].video.duration")),
        ({"video": {**VIDEO, "duration": 30.5}}, (INVALID, "messages[0].video.duration")),
        ({"video": {**VIDEO, "thumbnail": None}}, (MISSING, "messages[0].video.thumbnail")),
        ({"video": "https://cdn.example.com/v.mp4"}, (INVALID, "messages[0].video")),
        ({"template": {"id": "123"}}, (MISSING, "messages[0].template.lang")),
        ({"template": {"id": 123, "lang": "en"}}, (INVALID, "messages[0].template.id")),
        ({"template": {**TEMPLATE, "params": {"name": 5}}},
         (INVALID, "messages[0].template.params.name")),
        ({"template": {**TEMPLATE, "params": ["Ann"]}}, (INVALID, "messages[0].template.params")),
        ({"carousel": {"items": [carousel_item()]}}, (INVALID, "messages[0].carousel.items")),
        ({"carousel": {"items": [carousel_item()] * 6}}, (INVALID, "messages[0].carousel.items")),
        ({"carousel": {}}, (MISSING, "messages[0].carousel.items")),
        ({"carousel": {"items": [carousel_item("x"), carousel_item()]}},
         (INVALID, "messages[0].carousel.items[0].title")),
        ({"carousel": {"items": [carousel_item(), carousel_item("x" * 39)]}},
         (INVALID, "messages[0].carousel.items[1].title")),
        ({"carousel": {"items": [carousel_item(), {"title": "Tea", "image_url": IMG}]}},
         (MISSING, "messages[0].carousel.items[1].primary_button")),
        ({"carousel": {"items": [carousel_item(), "Tea"]}},
         (INVALID, "messages[0].carousel.items[1]")),
        ({"carousel": {"items": [carousel_item(secondary_button={"label": ""}), carousel_item()]}},
         (INVALID, "messages[0].carousel.items[0].secondary_button.label")),
    ],
)  # fmt: skip
def test_viber_rejected(fields: Json, expected: tuple[str, str]) -> None:
    found = errors(body({"channel": "viber", **fields}))
    assert expected in found, found
    assert all(code in (INVALID, MISSING) for code, _ in found)


def test_viber_shape_error_lists_valid_shapes() -> None:
    with pytest.raises(RequestInvalid) as info:
        ok(body({"channel": "viber", "text": "hi", "image_url": IMG}))
    detail = info.value.errors[0].detail
    assert "text+image_url+button_text+button_url" in detail
    assert "carousel+text" in detail


def test_viber_carousel_missing_secondary_label() -> None:
    item = carousel_item(secondary_button={"action_url": "https://example.com"})
    found = errors(body({"channel": "viber", "carousel": {"items": [item, carousel_item()]}}))
    assert found == [(MISSING, "messages[0].carousel.items[0].secondary_button.label")]


# ------------------------------------------------------------------------------------------------
# whatsapp
# ------------------------------------------------------------------------------------------------

WA_TEMPLATE: Json = {
    "name": "order_ready",
    "language": {"code": "en_US", "policy": "deterministic"},
    "components": [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": IMG}}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ann"},
                {
                    "type": "currency",
                    "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": "10000"},
                },
                {"type": "date_time", "date_time": {"fallback_value": "May 1"}},
            ],
        },
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": 0,
            "parameters": [{"type": "payload", "payload": "YES"}],
        },
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": None,
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
        },
        {"type": "footer"},
    ],
}


def wa_template(**changes: Any) -> Json:
    return {"template": {**WA_TEMPLATE, **changes}}


@pytest.mark.parametrize(
    "fields",
    [
        {"text": {"body": "Hello 👋 https://example.com", "preview_url": False}},
        {"text": {"body": "x" * 4096}},
        {"template": {"name": "hello_world", "language": {"code": "en"}, "components": []}},
        {"image": {"link": IMG, "caption": "Menu"}},
        {"image": {"id": "1234567890"}},
        {"video": {"link": "https://cdn.example.com/v.mp4", "caption": "Clip", "mime_type": "video/mp4"}},
        {"audio": {"id": "987", "mime_type": "audio/ogg"}},
        {"document": {"link": "https://cdn.example.com/a.pdf", "file_name": "a.pdf", "caption": "Bill"}},
        {"sticker": {"id": "42", "animated": True}},
    ],
)  # fmt: skip
def test_whatsapp_accepted(fields: Json) -> None:
    assert one({"channel": "whatsapp", **fields}).content == fields


def test_whatsapp_full_template_accepted_and_index_null_dropped() -> None:
    content = one({"channel": "whatsapp", "template": WA_TEMPLATE}).content
    components = content["template"]["components"]
    assert components[0] == WA_TEMPLATE["components"][0]
    assert components[1] == WA_TEMPLATE["components"][1]
    assert "index" not in components[3]
    assert components[4] == {"type": "footer"}


def test_whatsapp_amount_1000_may_be_an_integer() -> None:
    parameter = {
        "type": "currency",
        "currency": {"fallback_value": "$1", "code": "EUR", "amount_1000": 1000},
    }
    template = {**WA_TEMPLATE, "components": [{"type": "body", "parameters": [parameter]}]}
    assert one({"channel": "whatsapp", "template": template}).content["template"] == template


def test_whatsapp_unknown_nested_keys_dropped() -> None:
    message = {"channel": "whatsapp", "text": {"body": "hi", "additional_properties": {}}, "x": 1}
    assert one(message).content == {"text": {"body": "hi"}}


C2P0 = "messages[0].template.components[2].parameters[0]"


def _param(parameter: Json) -> Json:
    components = [
        {"type": "header"},
        {"type": "body"},
        {"type": "button", "parameters": [parameter]},
    ]
    return wa_template(components=components)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (MISSING, "messages[0]")),
        ({"text": None}, (MISSING, "messages[0]")),
        ({"text": {"body": "hi"}, "image": {"link": IMG}}, (INVALID, "messages[0].image")),
        ({"template": WA_TEMPLATE, "text": {"body": "hi"}}, (INVALID, "messages[0].template")),
        ({"text": "hi"}, (INVALID, "messages[0].text")),
        ({"text": {}}, (MISSING, "messages[0].text.body")),
        ({"text": {"body": ""}}, (INVALID, "messages[0].text.body")),
        ({"text": {"body": "x" * 4097}}, (INVALID, "messages[0].text.body")),
        ({"text": {"body": "hi", "preview_url": "yes"}}, (INVALID, "messages[0].text.preview_url")),
        ({"text": {"body": "hi", "preview_url": 1}}, (INVALID, "messages[0].text.preview_url")),
        ({"image": {"id": "1", "link": IMG}}, (INVALID, "messages[0].image.link")),
        ({"image": {"caption": "x"}}, (MISSING, "messages[0].image")),
        ({"image": {"link": "ftp://x/a.png"}}, (INVALID, "messages[0].image.link")),
        ({"image": {"id": 5}}, (INVALID, "messages[0].image.id")),
        ({"image": {"id": "1", "caption": "x" * 1025}}, (INVALID, "messages[0].image.caption")),
        ({"sticker": {"id": "1", "animated": "yes"}}, (INVALID, "messages[0].sticker.animated")),
        ({"document": {"id": "1", "file_name": 3}}, (INVALID, "messages[0].document.file_name")),
        (wa_template(name=None), (MISSING, "messages[0].template.name")),
        (wa_template(name=""), (INVALID, "messages[0].template.name")),
        (wa_template(language=None), (MISSING, "messages[0].template.language")),
        (wa_template(language="en"), (INVALID, "messages[0].template.language")),
        (wa_template(language={"policy": "x"}), (MISSING, "messages[0].template.language.code")),
        (wa_template(components=None), (MISSING, "messages[0].template.components")),
        (wa_template(components={"type": "body"}), (INVALID, "messages[0].template.components")),
        (wa_template(components=[{"type": "body"}, "x"]),
         (INVALID, "messages[0].template.components[1]")),
        (wa_template(components=[{"sub_type": "x"}]),
         (MISSING, "messages[0].template.components[0].type")),
        (wa_template(components=[{"type": "button", "index": "1"}]),
         (INVALID, "messages[0].template.components[0].index")),
        (wa_template(components=[{"type": "button", "index": True}]),
         (INVALID, "messages[0].template.components[0].index")),
        (wa_template(components=[{"type": "button", "index": -1}]),
         (INVALID, "messages[0].template.components[0].index")),
        (wa_template(components=[{"type": "body", "parameters": {"type": "text"}}]),
         (INVALID, "messages[0].template.components[0].parameters")),
        (_param({"text": "Ann"}), (MISSING, f"{C2P0}.type")),
        (_param({"type": 1, "text": "Ann"}), (INVALID, f"{C2P0}.type")),
        (_param({"type": "location"}), (INVALID, f"{C2P0}.type")),
        (_param({"type": "text"}), (MISSING, f"{C2P0}.text")),
        (_param({"type": "text", "text": 5}), (INVALID, f"{C2P0}.text")),
        (_param({"type": "image", "image": {}}), (MISSING, f"{C2P0}.image")),
        (_param({"type": "currency", "currency": {"fallback_value": "$1", "code": "eur",
                                                   "amount_1000": "1"}}),
         (INVALID, f"{C2P0}.currency.code")),
        (_param({"type": "currency", "currency": {"fallback_value": "$1", "code": "EUR",
                                                   "amount_1000": 1.5}}),
         (INVALID, f"{C2P0}.currency.amount_1000")),
        (_param({"type": "currency", "currency": {"fallback_value": "$1", "code": "EUR"}}),
         (MISSING, f"{C2P0}.currency.amount_1000")),
        (_param({"type": "date_time", "date_time": {}}), (MISSING, f"{C2P0}.date_time.fallback_value")),
    ],
)  # fmt: skip
def test_whatsapp_rejected(fields: Json, expected: tuple[str, str]) -> None:
    assert error(body({"channel": "whatsapp", **fields})) == expected


# ------------------------------------------------------------------------------------------------
# rcs
# ------------------------------------------------------------------------------------------------

FILE = {"file_url": "https://cdn.example.com/a.jpg", "force_refresh": False}
REPLY = {"reply": {"text": "Yes", "postback_data": "yes"}}


def action(**kind: Any) -> Json:
    return {"action": {"text": "Do it", "postback_data": "act", **kind}}


ACTIONS = [
    action(dial_action={"phone_number": "+37251234567"}),
    action(view_location_action={"lat_long": {"latitude": 59.43, "longitude": 24}, "label": "Here"}),
    action(view_location_action={"query": "coffee near me"}),
    action(create_calendar_event_action={
        "start_time": "2026-02-01T10:00:00Z", "end_time": "2026-02-01T11:00:00Z",
        "title": "Visit", "description": "Coffee tasting"}),
    action(open_url_action={"url": "https://example.com", "application": "WEBVIEW",
                            "webview_view_mode": "HALF", "description": "Shop"}),
    action(open_url_action={"url": "https://example.com", "application": "BROWSER"},
           fallback_url="https://example.com/fallback"),
    action(share_location_action={}),
]  # fmt: skip
CARD = {
    "title": "Coffee",
    "description": "Fresh",
    "media": {"height": "MEDIUM", "content_info": FILE},
    "suggestions": [REPLY] * 4,
}


def rcs(**fields: Any) -> Json:
    return {"channel": "rcs", "sender": "CoffeeShop", **fields}


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "Hello"},
        {"text": "x" * 3072},
        {"text": "Pick", "suggestions": [REPLY, *ACTIONS]},
        {"text": "Pick", "suggestions": [REPLY] * 11},
        {"content_info": FILE},
        {"content_info": {**FILE, "thumbnail_url": "https://cdn.example.com/t.jpg",
                          "force_refresh": True}},
        {"rich_card": {"standalone_card": {"card_orientation": "VERTICAL",
                                           "thumbnail_image_alignment": "LEFT",
                                           "card_content": CARD}}},
        {"rich_card": {"standalone_card": {"card_orientation": "HORIZONTAL",
                                           "thumbnail_image_alignment": "RIGHT",
                                           "card_content": {"title": "Only title"}}}},
        {"rich_card": {"carousel_card": {"card_width": "SMALL", "card_contents": [CARD, CARD]}}},
        {"rich_card": {"carousel_card": {"card_width": "MEDIUM", "card_contents": [CARD] * 10}},
         "suggestions": [REPLY]},
    ],
)  # fmt: skip
def test_rcs_accepted(fields: Json) -> None:
    request = one(rcs(**fields))
    assert request.sender == "CoffeeShop"
    assert request.content == fields


STANDALONE = "messages[0].rich_card.standalone_card"
S0 = "messages[0].suggestions[0]"


def standalone(**changes: Any) -> Json:
    card = {"card_orientation": "VERTICAL", "thumbnail_image_alignment": "LEFT",
            "card_content": CARD, **changes}  # fmt: skip
    return {"rich_card": {"standalone_card": card}}


def with_action(**kind: Any) -> Json:
    return {"text": "x", "suggestions": [action(**kind)]}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (MISSING, "messages[0]")),
        ({"text": "a", "content_info": FILE}, (INVALID, "messages[0].content_info")),
        ({"text": "a", "rich_card": standalone()["rich_card"]}, (INVALID, "messages[0].rich_card")),
        ({"text": "x" * 3073}, (INVALID, "messages[0].text")),
        ({"text": "a", "suggestions": [REPLY] * 12}, (INVALID, "messages[0].suggestions")),
        ({"text": "a", "suggestions": REPLY}, (INVALID, "messages[0].suggestions")),
        ({"text": "a", "suggestions": [{}]}, (MISSING, S0)),
        ({"text": "a", "suggestions": [{**REPLY, **ACTIONS[0]}]}, (INVALID, f"{S0}.action")),
        ({"text": "a", "suggestions": [{"reply": {"text": "x" * 26, "postback_data": "p"}}]},
         (INVALID, f"{S0}.reply.text")),
        ({"text": "a", "suggestions": [{"reply": {"text": "Yes"}}]},
         (MISSING, f"{S0}.reply.postback_data")),
        ({"text": "a", "suggestions": [{"reply": {"text": "Y", "postback_data": "p" * 2049}}]},
         (INVALID, f"{S0}.reply.postback_data")),
        (with_action(), (MISSING, f"{S0}.action")),
        (with_action(dial_action={"phone_number": "+37251234567"}, share_location_action={}),
         (INVALID, f"{S0}.action.share_location_action")),
        (with_action(dial_action={"phone_number": "123"}),
         (INVALID, f"{S0}.action.dial_action.phone_number")),
        (with_action(dial_action={}), (MISSING, f"{S0}.action.dial_action.phone_number")),
        (with_action(share_location_action={}, fallback_url="not a url"),
         (INVALID, f"{S0}.action.fallback_url")),
        (with_action(share_location_action=True), (INVALID, f"{S0}.action.share_location_action")),
        (with_action(view_location_action={"lat_long": {"latitude": 91, "longitude": 0}}),
         (INVALID, f"{S0}.action.view_location_action.lat_long.latitude")),
        (with_action(view_location_action={"lat_long": {"latitude": True, "longitude": 0}}),
         (INVALID, f"{S0}.action.view_location_action.lat_long.latitude")),
        (with_action(view_location_action={"lat_long": {"latitude": 0, "longitude": "24"}}),
         (INVALID, f"{S0}.action.view_location_action.lat_long.longitude")),
        (with_action(view_location_action={"lat_long": {"latitude": 0}}),
         (MISSING, f"{S0}.action.view_location_action.lat_long.longitude")),
        (with_action(view_location_action={"label": "x"}),
         (MISSING, f"{S0}.action.view_location_action")),
        (with_action(create_calendar_event_action={
            "start_time": "2026-02-01T10:00Z", "end_time": "2026-02-01T09:00Z",
            "title": "t", "description": "d"}),
         (INVALID, f"{S0}.action.create_calendar_event_action.end_time")),
        (with_action(create_calendar_event_action={
            "start_time": "2026-02-01", "end_time": "2026-02-01T09:00Z",
            "title": "t", "description": "d"}),
         (INVALID, f"{S0}.action.create_calendar_event_action.start_time")),
        (with_action(create_calendar_event_action={
            "start_time": "2026-02-01T10:00Z", "end_time": "2026-02-01T11:00Z",
            "title": "t" * 101, "description": "d"}),
         (INVALID, f"{S0}.action.create_calendar_event_action.title")),
        (with_action(create_calendar_event_action={
            "start_time": "2026-02-01T10:00Z", "end_time": "2026-02-01T11:00Z",
            "title": "t", "description": "d" * 501}),
         (INVALID, f"{S0}.action.create_calendar_event_action.description")),
        (with_action(open_url_action={"url": "https://example.com"}),
         (MISSING, f"{S0}.action.open_url_action.application")),
        (with_action(open_url_action={"url": "https://example.com", "application": "browser"}),
         (INVALID, f"{S0}.action.open_url_action.application")),
        (with_action(open_url_action={"url": "https://example.com", "application": "WEBVIEW",
                                      "webview_view_mode": "WIDE"}),
         (INVALID, f"{S0}.action.open_url_action.webview_view_mode")),
        (with_action(open_url_action={"url": "https://example.com/" + "a" * 2048,
                                      "application": "BROWSER"}),
         (INVALID, f"{S0}.action.open_url_action.url")),
        ({"content_info": {"file_url": "https://x.example/a"}},
         (MISSING, "messages[0].content_info.force_refresh")),
        ({"content_info": {**FILE, "force_refresh": "true"}},
         (INVALID, "messages[0].content_info.force_refresh")),
        ({"content_info": {"force_refresh": True}}, (MISSING, "messages[0].content_info.file_url")),
        ({"content_info": {**FILE, "file_url": "file:///etc/passwd"}},
         (INVALID, "messages[0].content_info.file_url")),
        ({"rich_card": {}}, (MISSING, "messages[0].rich_card")),
        (standalone(card_orientation="vertical"), (INVALID, f"{STANDALONE}.card_orientation")),
        (standalone(card_orientation=None), (MISSING, f"{STANDALONE}.card_orientation")),
        (standalone(thumbnail_image_alignment="CENTER"),
         (INVALID, f"{STANDALONE}.thumbnail_image_alignment")),
        (standalone(card_content=None), (MISSING, f"{STANDALONE}.card_content")),
        (standalone(card_content={}), (MISSING, f"{STANDALONE}.card_content")),
        (standalone(card_content={"title": "x" * 201}), (INVALID, f"{STANDALONE}.card_content.title")),
        (standalone(card_content={"description": "x" * 2001}),
         (INVALID, f"{STANDALONE}.card_content.description")),
        (standalone(card_content={**CARD, "suggestions": [REPLY] * 5}),
         (INVALID, f"{STANDALONE}.card_content.suggestions")),
        (standalone(card_content={"media": {"content_info": FILE}}),
         (MISSING, f"{STANDALONE}.card_content.media.height")),
        (standalone(card_content={"media": {"height": "HUGE", "content_info": FILE}}),
         (INVALID, f"{STANDALONE}.card_content.media.height")),
        (standalone(card_content={"media": {"height": "TALL"}}),
         (MISSING, f"{STANDALONE}.card_content.media.content_info")),
        ({"rich_card": {"carousel_card": {"card_width": "SMALL", "card_contents": [CARD]}}},
         (INVALID, "messages[0].rich_card.carousel_card.card_contents")),
        ({"rich_card": {"carousel_card": {"card_width": "SMALL", "card_contents": [CARD] * 11}}},
         (INVALID, "messages[0].rich_card.carousel_card.card_contents")),
        ({"rich_card": {"carousel_card": {"card_width": "LARGE", "card_contents": [CARD] * 2}}},
         (INVALID, "messages[0].rich_card.carousel_card.card_width")),
        ({"rich_card": {**standalone()["rich_card"],
                        "carousel_card": {"card_width": "SMALL", "card_contents": [CARD] * 2}}},
         (INVALID, "messages[0].rich_card.carousel_card")),
    ],
)  # fmt: skip
def test_rcs_rejected(fields: Json, expected: tuple[str, str]) -> None:
    assert error(body(rcs(**fields))) == expected


@pytest.mark.parametrize("sender", [None, "absent"])
def test_rcs_without_sender(sender: str | None) -> None:
    message: Json = {"channel": "rcs", "text": "hi"}
    if sender is None:
        message["sender"] = None
    assert error(body(message)) == (MISSING, "messages[0].sender")


@pytest.mark.parametrize(
    "sender",
    [
        "my-agent",
        "acme_x1_agent",
        "CoffeeShop",
        "a",
        "agent.v2",
        "acme_x1_agent@rbm.goog",
        "A" * 100,
    ],
)
def test_rcs_sender_is_an_agent_id(sender: str) -> None:
    """The SMS sender rule would refuse most of these (a '-', '_', more than 11 characters)."""
    assert one(rcs(text="hi", sender=sender)).sender == sender


@pytest.mark.parametrize(
    "sender", ["", "Coffee Shop", "-agent", "_agent", "a/b", "ägent", "a" * 101, "a\nb"]
)
def test_rcs_sender_not_an_agent_id(sender: str) -> None:
    assert error(body(rcs(text="hi", sender=sender))) == (INVALID, "messages[0].sender")


def test_sms_sender_rule_is_unchanged_by_the_rcs_rule() -> None:
    assert error(body(sms(sender="my-agent"))) == (INVALID, "messages[0].sender")


def test_rcs_dial_number_is_normalised() -> None:
    fields = with_action(dial_action={"phone_number": "37251234567"})
    content = one(rcs(**fields)).content
    assert content["suggestions"][0]["action"]["dial_action"] == {"phone_number": TO}


# ------------------------------------------------------------------------------------------------
# telegram
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "hi"},
        {"text": "x" * 4096},
        {"image_url": IMG},
        {"text": "Invoice", "document_url": "https://cdn.example.com/a.pdf"},
        {"audio_url": "https://cdn.example.com/a.mp3"},
    ],
)
def test_telegram_accepted(fields: Json) -> None:
    assert one({"channel": "telegram", "validity": 5, **fields}).content == fields


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (MISSING, "messages[0].text")),
        ({"text": None, "image_url": None}, (MISSING, "messages[0].text")),
        ({"text": "hi", "ttl": 60}, (INVALID, "messages[0].ttl")),
        ({"image_url": IMG, "document_url": IMG}, (INVALID, "messages[0].document_url")),
        ({"text": "hi", "audio_url": "ftp://x/a.mp3"}, (INVALID, "messages[0].audio_url")),
        ({"text": "x" * 4097}, (INVALID, "messages[0].text")),
        ({"text": False}, (INVALID, "messages[0].text")),
    ],
)
def test_telegram_rejected(fields: Json, expected: tuple[str, str]) -> None:
    assert error(body({"channel": "telegram", **fields})) == expected


# ------------------------------------------------------------------------------------------------
# bulk
# ------------------------------------------------------------------------------------------------


def bulk(data: object, limits: Limits = LIMITS) -> list[OmnimessageRequest | RequestInvalid]:
    return validate_bulk(data, now=NOW, limits=limits)


def test_bulk_validates_each_item_on_its_own() -> None:
    results = bulk({"messages": [body(sms()), {"messages": [sms()]}, "x", body(sms(text=""))]})
    assert isinstance(results[0], OmnimessageRequest)
    assert isinstance(results[1], RequestInvalid)
    assert [(e.code, e.source) for e in results[1].errors] == [(MISSING, "messages[1].to")]
    assert isinstance(results[2], RequestInvalid)
    assert [(e.code, e.source) for e in results[2].errors] == [(INVALID, "messages[2]")]
    assert isinstance(results[3], RequestInvalid)
    assert [e.source for e in results[3].errors] == ["messages[3].messages[0].text"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, (INVALID, None)),
        ([body(sms())], (INVALID, None)),
        ({}, (MISSING, "messages")),
        ({"messages": None}, (MISSING, "messages")),
        ({"messages": []}, (INVALID, "messages")),
        ({"messages": body(sms())}, (INVALID, "messages")),
        ({"messages": [body(sms())] * 3}, (INVALID, "messages")),
    ],
)
def test_bulk_bad_envelope(data: object, expected: tuple[str, str | None]) -> None:
    with pytest.raises(RequestInvalid) as info:
        bulk(data, limits=Limits(max_bulk=2))
    assert [(e.code, e.source) for e in info.value.errors] == [expected]


def test_bulk_at_limit() -> None:
    results = bulk({"messages": [body(sms())] * 2}, limits=Limits(max_bulk=2))
    assert all(isinstance(r, OmnimessageRequest) for r in results)
