"""The pure parts of the command-line client: request bodies, `--at`, tables, error lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tidings.cli.format import (
    AUTH_FAILED,
    build_omnimessage,
    format_api_error,
    format_error_item,
    format_inbox,
    format_send,
    format_status,
    inbox_header,
    inbox_row,
    inbox_text_width,
    one_line,
    per_channel,
    resolve_at,
    show_time,
    table,
    truncate,
)
from tidings.client import ApiError, ConnectionProblem, TidingsClient, normalise_base_url
from tidings.core.timeparse import parse_time_to_send

NOW = datetime(2030, 6, 22, 9, 5, 7, 123456, tzinfo=UTC)

# --- --at --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "delta"),
    [
        ("+10s", timedelta(seconds=10)),
        ("+5m", timedelta(minutes=5)),
        ("+2h", timedelta(hours=2)),
        ("+1d", timedelta(days=1)),
        ("+1h30m", timedelta(hours=1, minutes=30)),
        ("+0s", timedelta(0)),
    ],
)
def test_relative_at_becomes_utc_iso_that_the_server_parses(value: str, delta: timedelta) -> None:
    out = resolve_at(value, NOW)
    assert out.endswith("Z")
    assert parse_time_to_send(out) == NOW + delta


def test_relative_at_is_counted_in_utc_whatever_the_local_zone() -> None:
    local_now = NOW.astimezone(timezone(timedelta(hours=3)))
    assert resolve_at("+10s", local_now) == "2030-06-22T09:05:17.123456Z"


@pytest.mark.parametrize(
    "value", ["2030-06-22T09:05", "2030-06-22T09:05:07+04:00", "2030-06-22T09:05Z", "tomorrow"]
)
def test_absolute_at_passes_through_for_the_server_to_parse(value: str) -> None:
    assert resolve_at(value, NOW) == value


@pytest.mark.parametrize("value", ["+", "+5", "+5y", "+m5", "+5 m", "+-5s", "+1.5h"])
def test_bad_relative_at_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="relative time"):
        resolve_at(value, NOW)


def test_relative_at_too_far_ahead_is_refused() -> None:
    with pytest.raises(ValueError, match="too far ahead"):
        resolve_at("+500d", NOW)


# --- request bodies ----------------------------------------------------------------------------


def test_single_text_without_channel_is_sms() -> None:
    assert build_omnimessage("+37251234567", [], ["Hello"]) == {
        "to": "+37251234567",
        "messages": [{"channel": "sms", "text": "Hello"}],
    }


def test_channels_pair_with_texts_in_order_and_whatsapp_text_is_a_body() -> None:
    body = build_omnimessage(
        "+37251234567",
        ["whatsapp", "viber", "telegram", "sms"],
        ["w", "v", "t", "s"],
        at="2030-06-22T09:05",
        dlr_url="https://example.com/dlr",
        priority="high",
        text_store="nostore",
    )
    assert body == {
        "to": "+37251234567",
        "messages": [
            {"channel": "whatsapp", "text": {"body": "w"}},
            {"channel": "viber", "text": "v"},
            {"channel": "telegram", "text": "t"},
            {"channel": "sms", "text": "s"},
        ],
        "time_to_send": "2030-06-22T09:05",
        "dlr_url": "https://example.com/dlr",
        "priority": "high",
        "text_store": "nostore",
    }


def test_sender_ttl_validity_global_and_per_channel() -> None:
    body = build_omnimessage(
        "+37251234567",
        ["rcs", "viber", "sms"],
        ["r", "v", "s"],
        senders=["AliceCo", "rcs=Agent"],
        ttls=["viber=5"],
        validities=["60"],
    )
    assert body["messages"] == [
        {"channel": "rcs", "sender": "Agent", "text": "r", "validity": 60},
        {"channel": "viber", "sender": "AliceCo", "text": "v", "ttl": 5},
        {"channel": "sms", "sender": "AliceCo", "text": "s", "validity": 60},
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": ["sms", "viber"], "texts": ["a"]}, "each --channel needs one --text"),
        ({"channels": ["sms"], "texts": ["a", "b"]}, "each --channel needs one --text"),
        ({"channels": [], "texts": ["a", "b"]}, "each --channel needs one --text"),
        ({"channels": [], "texts": []}, "--text"),
        ({"channels": ["rcs"], "texts": ["a"]}, "rcs needs a sender"),
        ({"channels": ["rcs"], "texts": ["a"], "senders": ["sms=X"]}, "not in the chain"),
        ({"channels": ["sms"], "texts": ["a"], "ttls": ["5", "6"]}, "given twice"),
        ({"channels": ["sms"], "texts": ["a"], "ttls": ["sms=5", "sms=6"]}, "twice for sms"),
        ({"channels": ["sms"], "texts": ["a"], "ttls": ["5"], "validities": ["5"]}, "not both"),
        ({"channels": ["sms"], "texts": ["a"], "ttls": ["soon"]}, "not a whole number"),
        (
            {"channels": ["sms"], "texts": ["a"], "ttls": ["sms=5"], "validities": ["sms=5"]},
            "not both",
        ),
    ],
)
def test_usage_mistakes_are_value_errors(kwargs: dict[str, Any], message: str) -> None:
    channels = kwargs.pop("channels")
    texts = kwargs.pop("texts")
    with pytest.raises(ValueError, match=message):
        build_omnimessage("+37251234567", channels, texts, **kwargs)


def test_per_channel_treats_unknown_prefix_as_a_plain_value() -> None:
    # An `=` that does not follow a channel name is part of the value.
    assert per_channel(["a=b"], "--sender", ["sms", "viber"]) == {"sms": "a=b", "viber": "a=b"}
    assert per_channel([], "--ttl", ["sms"]) == {}


# --- text helpers ------------------------------------------------------------------------------


def test_one_line_removes_control_characters_and_newlines() -> None:
    assert one_line("hi\n\tthere \x1b[31mred\x1b[0m") == "hi there [31mred [0m"
    assert one_line(None) == ""


def test_truncate() -> None:
    assert truncate("hello", 5) == "hello"
    assert truncate("hello!", 5) == "hell…"
    assert truncate("hello", 0) == ""


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2030-06-22T09:05:07.123456Z", "2030-06-22 09:05:07"),
        ("2030-06-22T12:05:07+03:00", "2030-06-22 09:05:07"),
        ("2030-06-22T09:05:07", "2030-06-22 09:05:07"),
        (None, "-"),
        ("", "-"),
        ("garbage", "garbage"),
    ],
)
def test_show_time_is_utc(value: str | None, shown: str) -> None:
    assert show_time(value) == shown


def test_table_aligns_columns() -> None:
    assert table(("A", "BB", "C"), [("xxx", "y", "z"), ("1", "22222", "")]) == [
        "A    BB     C",
        "xxx  y      z",
        "1    22222",
    ]


# --- answers -----------------------------------------------------------------------------------

SEND = {
    "messages": [
        {"message_id": "m-1", "channel": "viber", "sender": "AliceCo"},
        {"message_id": "m-22", "channel": "sms", "sender": "+3725555"},
    ],
    "to": "+37251234567",
    "omnimessage_id": "o-1",
}


def test_format_send() -> None:
    assert format_send(SEND) == [
        "omnimessage o-1 to +37251234567",
        "CHANNEL  MESSAGE ID  SENDER",
        "viber    m-1         AliceCo",
        "sms      m-22        +3725555",
    ]


def test_format_send_scheduled_says_utc_when_no_offset_given() -> None:
    assert format_send(SEND, "2030-06-22T09:05")[0].endswith("scheduled for 2030-06-22T09:05 (UTC)")
    assert format_send(SEND, "2030-06-22T09:05Z")[0].endswith("scheduled for 2030-06-22T09:05Z")
    assert format_send(SEND, "2030-06-22T09:05+03:00")[0].endswith("+03:00")


def test_format_status_shows_pending_and_errors() -> None:
    body = {
        "omnimessage_id": "o-1",
        "to": "+37251234567",
        "statuses": [
            {
                "status": "UNDELIV",
                "channel": "viber",
                "message_id": "m-1",
                "sender": "AliceCo",
                "err": 1,
                "error": "undelivered",
                "timestamp": "2030-06-22T09:05:07.5Z",
            },
            {
                "status": None,
                "channel": "sms",
                "message_id": "m-2",
                "sender": "AliceCo",
                "err": None,
                "error": None,
                "timestamp": None,
            },
        ],
    }
    assert format_status(body) == [
        "omnimessage o-1 to +37251234567",
        "CHANNEL  STATUS   ERR  ERROR        TIMESTAMP (UTC)",
        "viber    UNDELIV  1    undelivered  2030-06-22 09:05:07",
        "sms      pending  -    -            -",
    ]


def _inbox_message(text: str, at: str, channel: str = "sms") -> dict[str, Any]:
    return {
        "message_id": f"m-{at}",
        "omnimessage_id": "o-1",
        "channel": channel,
        "to": "+37251234567",
        "sender": "AliceCo",
        "text": text,
        "content": {},
        "delivered_at": at,
    }


def test_format_inbox_is_oldest_first_with_fixed_columns_and_truncated_text() -> None:
    newest_first = [
        _inbox_message("second\nline", "2030-06-22T09:05:08.000000Z", "whatsapp"),
        _inbox_message("x" * 100, "2030-06-22T09:05:07.000000Z"),
    ]
    lines = format_inbox(newest_first, text_width=20)
    assert lines[0] == inbox_header(20)
    assert lines[0].startswith("TIME (UTC)           TO                CHANNEL   SENDER")
    assert lines[1] == (
        "2030-06-22 09:05:07  +37251234567      sms       AliceCo          " + "x" * 19 + "…"
    )
    assert lines[2].endswith("whatsapp  AliceCo          second line")
    assert lines[2].index("whatsapp") == lines[1].index("sms")
    assert inbox_row(newest_first[1], 20) == lines[1]
    assert format_inbox([]) == ["no messages"]


def test_inbox_text_width_fills_the_terminal_but_keeps_a_minimum() -> None:
    assert inbox_text_width(200) > inbox_text_width(120) >= 20
    assert inbox_text_width(10) == 20


# --- errors ------------------------------------------------------------------------------------


def test_format_error_item() -> None:
    item = {
        "title": "Invalid data",
        "detail": "text is required",
        "code": "105",
        "source": "messages[0].text",
    }
    assert (
        format_error_item(item) == "error 105 (Invalid data) at messages[0].text: text is required"
    )
    item_no_source = {"title": "Not found", "detail": "No such omnimessage", "code": "101"}
    assert format_error_item(item_no_source) == "error 101 (Not found): No such omnimessage"


def test_format_api_error() -> None:
    unauthorized = [{"title": "Unauthorized", "detail": "x", "code": "103", "source": None}]
    assert format_api_error(401, unauthorized) == [AUTH_FAILED]
    two = [
        {"title": "Invalid data", "detail": "a", "code": "105", "source": "to"},
        {"title": "Missing data", "detail": "b", "code": "106", "source": "messages"},
    ]
    assert format_api_error(400, two) == [
        "error 105 (Invalid data) at to: a",
        "error 106 (Missing data) at messages: b",
    ]
    assert format_api_error(502, [], "<html>Bad gateway</html>") == [
        "HTTP 502: <html>Bad gateway</html>"
    ]
    assert format_api_error(503, []) == ["HTTP 503"]
    assert format_api_error(200, [], "hello") == [
        "unexpected answer from the server (HTTP 200): hello"
    ]


# --- the HTTP client, against a mock transport --------------------------------------------------


def _client(handler: Any) -> TidingsClient:
    return TidingsClient(
        "http://tidings.test/v1/", "alice", "pw", transport=httpx.MockTransport(handler)
    )


def test_normalise_base_url() -> None:
    assert normalise_base_url("http://h:8080/") == "http://h:8080"
    assert normalise_base_url("http://h:8080/v1") == "http://h:8080"
    assert normalise_base_url("https://h/prefix/v1/") == "https://h/prefix"
    for bad in ["ftp://h", "h:8080", "", "http://"]:
        with pytest.raises(ValueError):
            normalise_base_url(bad)


def test_client_paths_auth_and_answers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(201, json={"omnimessage_id": "o"})
        if request.method == "DELETE":
            return httpx.Response(202, json={})
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"statuses": []})
        return httpx.Response(200, json={"messages": []})

    oid = "0b6e4c1e-7d1c-4c39-9f0c-5d0b7e3c8a11"
    with _client(handler) as c:
        assert c.send({"to": "+1"}) == {"omnimessage_id": "o"}
        assert c.status(oid) == {"statuses": []}
        assert c.cancel(oid) == {}
        assert c.inbox("+37251234567", 5) == {"messages": []}
        c.status("../../etc")
    assert [r.url.raw_path.decode() for r in seen] == [
        "/v1/omnimessage",
        f"/v1/omnimessage/{oid}/status",
        f"/v1/omnimessage/{oid}",
        "/v1/sandbox/messages?limit=5&to=%2B37251234567",
        "/v1/omnimessage/..%2F..%2Fetc/status",
    ]
    assert all(r.headers["authorization"].startswith("Basic ") for r in seen)


def test_client_errors() -> None:
    body = {"errors": [{"title": "Not found", "detail": "nope", "code": "101", "source": None}]}

    with _client(lambda r: httpx.Response(404, json=body)) as c, pytest.raises(ApiError) as info:
        c.status("x")
    assert info.value.status == 404
    assert info.value.errors == body["errors"]
    assert info.value.body_json == body

    with (
        _client(lambda r: httpx.Response(502, text="bad gw")) as c,
        pytest.raises(ApiError) as info,
    ):
        c.cancel("x")
    assert (info.value.status, info.value.errors, info.value.body) == (502, [], "bad gw")
    assert info.value.body_json["errors"][0]["code"] == "502"

    # A 2xx that is not the expected one (or not JSON) is not silently taken for success.
    with _client(lambda r: httpx.Response(200, text="<html>")) as c, pytest.raises(ApiError):
        c.send({})

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    with _client(refuse) as c, pytest.raises(ConnectionProblem) as problem:
        c.inbox()
    assert str(problem.value) == "cannot reach http://tidings.test: Connection refused"


def test_format_list_says_when_quiet_hours_moved_a_message() -> None:
    from tidings.cli.schedule_commands import format_list

    item = {
        "omnimessage_id": "a",
        "to": "+37251000000",
        "state": "scheduled",
        "send_at": "2026-12-08T06:00:00.000Z",
        "channels": [{"channel": "sms"}],
        "batch": None,
    }
    lines = format_list(
        {"items": [{**item, "moved_by": "quiet_hours"}, {**item, "moved_by": None}]}
    )
    assert "MOVED BY" in lines[0]
    assert "quiet hours" in lines[1] and "quiet hours" not in lines[2]
    assert lines[2].split()[5] == "-"  # the send time is two words: date and time
