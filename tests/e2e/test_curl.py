"""The API as plain HTTP: the documented curl calls run with the real `curl` binary, then the
nasty cases (bad bodies, bad types, bad paths, no auth) with httpx. Every error must be a
Messente error body, `{"errors":[{title, detail, code, source}]}` with a string code, served as
`application/json`, never a framework default page, a 422 or a 500."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server
from tests.waiting import settle, wait_until

TITLES = {
    "101": "Not found",
    "102": "Forbidden",
    "103": "Unauthorized",
    "104": "Internal Server Error",
    "105": "Invalid data",
    "106": "Missing data",
    "107": "Method not allowed",
}

_numbers = iter(range(1, 1_000_000))


def new_to() -> str:
    """A fresh recipient in this module's own range (+37253...) on the shared server."""
    return f"+37253{next(_numbers):06d}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sms(to: str, text: str = "Hello", **kw: Any) -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": text}], **kw}


def assert_error(
    r: httpx.Response, status: int, code: str, source: str | None = None, *, any_item: bool = False
) -> list[dict[str, Any]]:
    """`r` is a Messente error answer with this status; its first item (or, with `any_item`,
    some item) has this code and source."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0].strip() == "application/json", r.headers
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    items: list[dict[str, Any]] = body["errors"]
    assert isinstance(items, list) and items, body
    for item in items:
        assert set(item) == {"title", "detail", "code", "source"}, item
        assert isinstance(item["code"], str), item
        assert item["title"] == TITLES[item["code"]], item
        assert isinstance(item["detail"], str) and item["detail"], item
        assert item["source"] is None or isinstance(item["source"], str), item
        if status != 400:
            assert item["source"] is None, item
    wanted = (code, source)
    if any_item:
        assert wanted in [(i["code"], i["source"]) for i in items], items
    else:
        assert (items[0]["code"], items[0]["source"]) == wanted, items
    return items


def inbox(c: httpx.Client, to: str) -> list[dict[str, Any]]:
    r = c.get("/v1/sandbox/messages", params={"to": to})
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


def wait_inbox(c: httpx.Client, to: str, timeout: float = 3.0) -> list[dict[str, Any]]:
    return settle(lambda: inbox(c, to), timeout)


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    with shared_server.client() as client:
        yield client


# -- the documented curl calls -----------------------------------------------------------------

CURL = shutil.which("curl")


def curl(*args: str) -> tuple[int, str, str]:
    """Run curl; return (HTTP status, content type, body)."""
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "--max-time", "10", "-w", "\n%{http_code} %{content_type}", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    body, _, tail = done.stdout.rpartition("\n")
    code, _, content_type = tail.partition(" ")
    return int(code), content_type, body


@pytest.mark.skipif(CURL is None, reason="needs the curl binary")
def test_documented_curl_schedule_cancel_and_status(shared_server: Server, c: httpx.Client) -> None:
    to = new_to()
    user = "{}:{}".format(*shared_server.auth)
    # The documented short form: minutes, no seconds, no offset (= UTC), an hour ahead.
    when = (utcnow() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    payload = json.dumps(
        {"to": to, "time_to_send": when, "messages": [{"channel": "sms", "text": "Hello"}]}
    )
    status, ctype, body = curl(
        "-u",
        user,
        "-H",
        "Content-Type: application/json",
        "-d",
        payload,
        f"{shared_server.url}/v1/omnimessage",
    )
    assert (status, ctype) == (201, "application/json"), body
    sent = json.loads(body)
    assert sent["to"] == to
    assert [(m["channel"], m["sender"]) for m in sent["messages"]] == [("sms", "AliceCo")]
    omnimessage_id = sent["omnimessage_id"]

    status, ctype, body = curl(
        "-u", user, f"{shared_server.url}/v1/omnimessage/{omnimessage_id}/status"
    )
    assert (status, ctype) == (200, "application/json"), body
    assert [s["status"] for s in json.loads(body)["statuses"]] == [None]

    status, ctype, body = curl(
        "-u", user, "-X", "DELETE", f"{shared_server.url}/v1/omnimessage/{omnimessage_id}"
    )
    assert (status, ctype, json.loads(body)) == (202, "application/json", {})

    status, ctype, body = curl(
        "-u", user, f"{shared_server.url}/v1/omnimessage/{omnimessage_id}/status"
    )
    assert status == 200, body
    report = json.loads(body)
    assert report["omnimessage_id"] == omnimessage_id
    assert [(s["channel"], s["status"]) for s in report["statuses"]] == [("sms", "DELETED")]
    assert report["statuses"][0]["message_id"] == sent["messages"][0]["message_id"]

    # Without credentials curl gets a 401 in the error format, and nothing changes.
    status, ctype, body = curl(
        "-X", "DELETE", f"{shared_server.url}/v1/omnimessage/{omnimessage_id}"
    )
    assert (status, ctype) == (401, "application/json")
    assert json.loads(body)["errors"][0]["code"] == "103"
    assert inbox(c, to) == []


@pytest.mark.skipif(CURL is None, reason="needs the curl binary")
def test_documented_curl_send_now(shared_server: Server, c: httpx.Client) -> None:
    to = new_to()
    status, _, body = curl(
        "-u",
        "{}:{}".format(*shared_server.auth),
        "-H",
        "Content-Type: application/json",
        "-d",
        json.dumps(sms(to, "Hello from curl")),
        f"{shared_server.url}/v1/omnimessage",
    )
    assert status == 201, body
    got = wait_inbox(c, to)
    assert [(m["channel"], m["text"]) for m in got] == [("sms", "Hello from curl")]
    assert got[0]["omnimessage_id"] == json.loads(body)["omnimessage_id"]


# -- bodies that are not what they should be ---------------------------------------------------

RAW_BAD_BODIES = {
    "malformed_json": b'{"to": "+37251234567", "messages": [',
    "trailing_garbage": b'{"to": "+37251234567"} x',
    "empty": b"",
    "whitespace": b"  \n ",
    "null": b"null",
    "string": b'"hello"',
    "number": b"42",
    "array": b'[{"to": "+37251234567", "messages": [{"channel": "sms", "text": "x"}]}]',
    "non_utf8": b'{"to": "+37251234567", "messages": [{"channel": "sms", "text": "\xff\xfe\xc3"}]}',
    "latin1": '{"to": "+37251234567", "messages": [{"channel": "sms", "text": "Ä"}]}'.encode(
        "latin-1"
    ),
    "lone_surrogate": b'{"to": "+37251234567", "messages": [{"channel": "sms", "text": "\\ud83c"}]}',
    "nan": b'{"to": "+37251234567", "messages": [{"channel": "sms", "text": "x", "ttl": NaN}]}',
    "deep_nesting": b'{"to": ' + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.mark.parametrize("name", list(RAW_BAD_BODIES))
def test_body_that_is_not_a_json_object(c: httpx.Client, name: str) -> None:
    body = RAW_BAD_BODIES[name]
    headers = {"Content-Type": "application/json"}
    assert_error(c.post("/v1/omnimessage", content=body, headers=headers), 400, "105", None)
    assert_error(c.post("/v1/omnimessages", content=body, headers=headers), 400, "105", None)


def test_body_over_one_mebibyte_is_413(c: httpx.Client) -> None:
    big = json.dumps(sms(new_to(), "x" * (1024 * 1024 + 10))).encode()
    assert_error(
        c.post("/v1/omnimessage", content=big, headers={"Content-Type": "application/json"}),
        413,
        "105",
        None,
    )

    # Streamed without a Content-Length: the limit holds while reading.
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    r = c.post("/v1/omnimessage", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "105", None)


def test_body_just_under_the_limit_is_read(c: httpx.Client) -> None:
    # Padding in an ignored field: the body is read and validated, not refused for size.
    to = new_to()
    body = sms(to, "padded", padding="p" * (1024 * 1024 - 200))
    raw = json.dumps(body).encode()
    assert len(raw) <= 1024 * 1024
    r = c.post("/v1/omnimessage", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text[:500]
    assert [m["text"] for m in wait_inbox(c, to)] == ["padded"]


WRONG_SHAPES: dict[str, tuple[Any, str, str | None]] = {
    # name: (body, code, source of some error item)
    "to_is_a_number": ({"to": 123, "messages": [{"channel": "sms", "text": "x"}]}, "105", "to"),
    "messages_is_a_string": ({"to": "+37251234567", "messages": "x"}, "105", "messages"),
    "both_wrong": ({"to": 123, "messages": "x"}, "105", "messages"),
    "to_missing": ({"messages": [{"channel": "sms", "text": "x"}]}, "106", "to"),
    "to_null": ({"to": None, "messages": [{"channel": "sms", "text": "x"}]}, "106", "to"),
    "messages_missing": ({"to": "+37251234567"}, "106", "messages"),
    "messages_empty": ({"to": "+37251234567", "messages": []}, "105", "messages"),
    "message_not_an_object": ({"to": "+37251234567", "messages": [1]}, "105", "messages[0]"),
    "unknown_channel": (
        {"to": "+37251234567", "messages": [{"channel": "fax", "text": "x"}]},
        "105",
        "messages[0].channel",
    ),
    "channel_missing": (
        {"to": "+37251234567", "messages": [{"text": "x"}]},
        "106",
        "messages[0].channel",
    ),
    "text_is_a_number": (
        {"to": "+37251234567", "messages": [{"channel": "sms", "text": 5}]},
        "105",
        "messages[0].text",
    ),
    "ttl_is_a_string": (
        {"to": "+37251234567", "messages": [{"channel": "sms", "text": "x", "ttl": "60"}]},
        "105",
        "messages[0].ttl",
    ),
    "time_to_send_is_a_number": (
        {"to": "+37251234567", "messages": [{"channel": "sms", "text": "x"}], "time_to_send": 1},
        "105",
        "time_to_send",
    ),
    "date_only_time_to_send": (
        {
            "to": "+37251234567",
            "messages": [{"channel": "sms", "text": "x"}],
            "time_to_send": (utcnow() + dt.timedelta(days=2)).strftime("%Y-%m-%d"),
        },
        "105",
        "time_to_send",
    ),
    "space_instead_of_T": (
        {
            "to": "+37251234567",
            "messages": [{"channel": "sms", "text": "x"}],
            "time_to_send": (utcnow() + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M"),
        },
        "105",
        "time_to_send",
    ),
    "bad_priority": (
        {"to": "+37251234567", "messages": [{"channel": "sms", "text": "x"}], "priority": "urgent"},
        "105",
        "priority",
    ),
}


@pytest.mark.parametrize("name", list(WRONG_SHAPES))
def test_wrong_types_and_values(c: httpx.Client, name: str) -> None:
    body, code, source = WRONG_SHAPES[name]
    assert_error(c.post("/v1/omnimessage", json=body), 400, code, source, any_item=True)


def test_bulk_envelope_errors(c: httpx.Client) -> None:
    assert_error(c.post("/v1/omnimessages", json={"messages": "x"}), 400, "105", "messages")
    assert_error(c.post("/v1/omnimessages", json={}), 400, "106", "messages")
    assert_error(c.post("/v1/omnimessages", json={"messages": []}), 400, "105", "messages")
    # A bad item is reported in place, with the item's path, and the request still succeeds.
    to = new_to()
    r = c.post("/v1/omnimessages", json={"messages": [sms(to, "ok"), {"to": 1}]})
    assert r.status_code == 201, r.text
    ok, bad = r.json()["messages"]
    assert ok["to"] == to
    sources = {(e["code"], e["source"]) for e in bad["errors"]}
    assert ("105", "messages[1].to") in sources
    assert ("106", "messages[1].messages") in sources


@pytest.mark.parametrize("autoconvert", ["on", "off", "full", "true", "false"])
def test_sms_autoconvert_values_of_both_client_generations(
    c: httpx.Client, autoconvert: str
) -> None:
    body = sms(new_to(), "x")
    body["messages"][0]["autoconvert"] = autoconvert
    assert c.post("/v1/omnimessage", json=body).status_code == 201


# -- content and time ----------------------------------------------------------------------------

UNICODE_TEXT = "Tere! Õun 🍏 — 你好 ✓ «ÄÖÜ» e\u0301 👩‍👩‍👧 \u200b end"


def test_unicode_text_round_trips_to_the_inbox(c: httpx.Client) -> None:
    to = new_to()
    # Sent as raw UTF-8 bytes ...
    raw = json.dumps(sms(to, UNICODE_TEXT), ensure_ascii=False).encode("utf-8")
    r = c.post("/v1/omnimessage", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    # ... and as \u escapes with surrogate pairs.
    escaped = json.dumps(
        {"to": to, "messages": [{"channel": "whatsapp", "text": {"body": UNICODE_TEXT}}]},
        ensure_ascii=True,
    )
    assert "\\ud83c\\udf4f" in escaped
    r = c.post(
        "/v1/omnimessage", content=escaped.encode(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text
    settle(lambda: len(inbox(c, to)) >= 2, 3)
    got = inbox(c, to)
    assert sorted((m["channel"], m["text"]) for m in got) == [
        ("sms", UNICODE_TEXT),
        ("whatsapp", UNICODE_TEXT),
    ]
    sms_msg = next(m for m in got if m["channel"] == "sms")
    assert sms_msg["content"]["text"] == UNICODE_TEXT


def test_inbox_is_newest_first(c: httpx.Client) -> None:
    to = new_to()
    ids = []
    for text in ("first", "second", "third"):
        r = c.post("/v1/omnimessage", json=sms(to, text))
        assert r.status_code == 201, r.text
        ids.append(r.json()["omnimessage_id"])
        wait_until(lambda: any(m["omnimessage_id"] == ids[-1] for m in inbox(c, to)), text, 3)
    got = inbox(c, to)
    assert [m["text"] for m in got] == ["third", "second", "first"]
    assert [m["omnimessage_id"] for m in got] == ids[::-1]


def test_time_to_send_with_offset_is_honoured(c: httpx.Client) -> None:
    when = utcnow() + dt.timedelta(seconds=1.5)
    local = when.astimezone(dt.timezone(dt.timedelta(hours=4)))
    text = local.isoformat()
    assert text.endswith("+04:00")
    to = new_to()
    r = c.post("/v1/omnimessage", json=sms(to, "at four", time_to_send=text))
    assert r.status_code == 201, r.text
    omnimessage_id = r.json()["omnimessage_id"]

    time.sleep(max(0.0, (when - utcnow()).total_seconds() - 0.3))
    assert utcnow() < when, "too slow to look before the scheduled time"
    early = inbox(c, to)
    if utcnow() < when:  # the answer came back before `when`: it must be empty
        assert early == [], "fired early"
    got = wait_inbox(c, to, timeout=(when - utcnow()).total_seconds() + 2)
    assert [m["omnimessage_id"] for m in got] == [omnimessage_id], "did not fire at the UTC instant"
    delivered = dt.datetime.fromisoformat(got[0]["delivered_at"])
    assert when <= delivered <= when + dt.timedelta(milliseconds=100), (when, delivered)


@pytest.mark.parametrize(
    "form",
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f+00:00"],
)
def test_documented_time_to_send_forms_are_accepted(c: httpx.Client, form: str) -> None:
    when = (utcnow() + dt.timedelta(hours=2)).strftime(form)
    r = c.post("/v1/omnimessage", json=sms(new_to(), time_to_send=when))
    assert r.status_code == 201, r.text
    omnimessage_id = r.json()["omnimessage_id"]
    assert c.delete(f"/v1/omnimessage/{omnimessage_id}").status_code == 202


# -- paths, methods and auth ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g", "%20", "..%2F..%2Fetc"]
)
def test_non_uuid_ids_are_404(c: httpx.Client, path: str) -> None:
    assert_error(c.delete(f"/v1/omnimessage/{path}"), 404, "101", None)
    assert_error(c.get(f"/v1/omnimessage/{path}/status"), 404, "101", None)


def test_unknown_uuid_is_404(c: httpx.Client) -> None:
    unknown = uuid.uuid4()
    assert_error(c.delete(f"/v1/omnimessage/{unknown}"), 404, "101", None)
    assert_error(c.get(f"/v1/omnimessage/{unknown}/status"), 404, "101", None)


@pytest.mark.parametrize(
    "path", ["/v1/nope", "/v2/omnimessage", "/v1/omnimessage/x/y/z", "/v1", "/v1/sandbox"]
)
def test_unknown_path_is_404(c: httpx.Client, path: str) -> None:
    assert_error(c.get(path), 404, "101", None)
    assert_error(c.post(path, json={}), 404, "101", None)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/omnimessage"),
        ("PUT", "/v1/omnimessage"),
        ("DELETE", "/v1/omnimessages"),
        ("PUT", "/v1/omnimessages"),  # GET lists (an extension)
        ("POST", "/v1/omnimessage/3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
        ("PUT", "/v1/omnimessage/3f2504e0-4f89-41d3-9a0c-0305e82c3301"),  # PATCH reschedules
        ("GET", "/v1/batches/spring/pause"),
        ("DELETE", "/v1/batches/spring"),
        ("POST", "/v1/omnimessage/3f2504e0-4f89-41d3-9a0c-0305e82c3301/status"),
        ("DELETE", "/v1/omnimessage/3f2504e0-4f89-41d3-9a0c-0305e82c3301/status"),
    ],
)
def test_wrong_method_is_405(c: httpx.Client, method: str, path: str) -> None:
    assert_error(c.request(method, path), 405, "107", None)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer alice-secret-pw",
        "Basic !!!not-base64!!!",
        "Basic " + "YWxpY2U=",  # "alice", no colon
        "Basic " + "YWxpY2U6d3Jvbmc=",  # alice:wrong
        "Basic " + "Ym9iOmFsaWNlLXNlY3JldC1wdw==",  # bob:alice-secret-pw
    ],
)
def test_missing_or_bad_auth_is_401(shared_server: Server, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    oid = uuid.uuid4()
    with httpx.Client(base_url=shared_server.url, headers=headers, timeout=10) as anon:
        for r in (
            anon.post("/v1/omnimessage", json=sms(new_to())),
            anon.post("/v1/omnimessages", json={"messages": [sms(new_to())]}),
            anon.delete(f"/v1/omnimessage/{oid}"),
            anon.get(f"/v1/omnimessage/{oid}/status"),
            anon.get("/v1/sandbox/messages"),
        ):
            assert_error(r, 401, "103", None)
            assert r.headers["www-authenticate"].lower().startswith("basic"), r.headers


def test_auth_is_checked_before_the_body(shared_server: Server) -> None:
    # An unauthenticated caller learns nothing about validation (401, not 400).
    with httpx.Client(base_url=shared_server.url, timeout=10) as anon:
        assert_error(anon.post("/v1/omnimessage", content=b"{bad"), 401, "103", None)
