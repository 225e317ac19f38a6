"""Hostile input over HTTP, on SQLite and PostgreSQL: NUL characters, Unicode digits and
out-of-range paging parameters, the request's media type, duplicate JSON keys, and the old
cases (malformed JSON, huge bodies, wrong types). Each must be a 4xx naming its field (a 400
page in the console), never a 500, and never a message reported delivered but not written."""

from __future__ import annotations

import base64
import itertools
import json
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server
from tests.e2e.test_console_http import csrf_of, signed_in
from tests.waiting import wait_until

_numbers = itertools.count(1)


def new_to() -> str:
    """A fresh recipient in this module's own range (+37254...)."""
    return f"+37254{next(_numbers):06d}"


def sms(to: str, text: str = "Hello") -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": text}]}


def assert_error(r: httpx.Response, status: int, code: str, source: str | None) -> None:
    """A Messente error answer: this status, one item with this code and source."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == "application/json", r.headers
    body = r.json()
    assert set(body) == {"errors"} and len(body["errors"]) >= 1, body
    item = body["errors"][0]
    assert set(item) == {"title", "detail", "code", "source"}, item
    assert (item["code"], item["source"]) == (code, source), item


def post_raw(c: httpx.Client, path: str, raw: bytes, ctype: str = "application/json") -> Any:
    return c.post(path, content=raw, headers={"Content-Type": ctype})


def client(server: Server, **kw: Any) -> httpx.Client:
    # A 500 makes uvicorn drop the connection; a fresh one per request keeps each check apart.
    return server.client(limits=httpx.Limits(max_keepalive_connections=0), **kw)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def assert_page(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("text/html"), r.headers


# -- NUL ------------------------------------------------------------------------------------------


def test_nul_is_refused_everywhere_on_both_backends(backend_server: Server) -> None:
    srv = backend_server
    with closing(client(srv)) as c:
        # In credentials: plain wrong credentials, with or without a valid login.
        for user, password in (("al\x00ice", "x"), ("alice", "alice-secret-pw\x00")):
            r = httpx.get(f"{srv.url}/v1/sandbox/messages", headers=basic(user, password))
            assert_error(r, 401, "103", None)

        # In any string of a body: a 400 naming the field, on both backends alike.
        to = new_to()
        assert_error(
            c.post("/v1/omnimessage", json=sms(to, "a\x00b")), 400, "105", "messages[0].text"
        )
        template = {
            "to": to,
            "messages": [
                {
                    "channel": "whatsapp",
                    "template": {
                        "name": "hello",
                        "language": {"code": "en"},
                        "components": [
                            {"type": "body", "parameters": [{"type": "text", "text": "\x00"}]}
                        ],
                    },
                }
            ],
        }
        assert_error(
            c.post("/v1/omnimessage", json=template),
            400,
            "105",
            "messages[0].template.components[0].parameters[0].text",
        )
        keyed = {"to": to, "messages": [{"channel": "sms", "text": "x", "x\x00": 1}]}
        assert_error(c.post("/v1/omnimessage", json=keyed), 400, "105", "messages[0]")
        bulk = {"messages": [sms(to, "fine"), sms(to, "bad\x00")]}
        assert_error(
            c.post("/v1/omnimessages", json=bulk), 400, "105", "messages[1].messages[0].text"
        )

        # A message with a clean text still goes through, and only that one is in the inbox.
        ok = c.post("/v1/omnimessage", json=sms(to, "clean"))
        assert ok.status_code == 201, ok.text
        status_url = f"/v1/omnimessage/{ok.json()['omnimessage_id']}/status"
        wait_until(
            lambda: c.get(status_url).json()["statuses"][0]["status"] == "DELIVRD",
            "the clean message to be delivered",
            10,
        )
        texts = [
            m["text"] for m in c.get("/v1/sandbox/messages", params={"to": to}).json()["messages"]
        ]
        assert texts == ["clean"]

        # In a query parameter of the API.
        assert_error(
            c.get("/v1/sandbox/messages", params={"to": "+3725\x001234567"}), 400, "105", "to"
        )

    # The console: sign-in, search, filters and compose.
    with closing(httpx.Client(base_url=srv.url, timeout=10)) as anon:
        token = csrf_of(anon.get("/login").text)
        r = anon.post("/login", data={"csrf": token, "username": "al\x00ice", "password": "x"})
        assert_page(r, 401)
        assert "Wrong username or password" in r.text
    with closing(signed_in(srv)) as b:
        assert_page(b.get("/search", params={"q": "a\x00b"}), 400)
        assert_page(b.get("/scheduled", params={"to": "+372\x00"}), 400)
        assert_page(b.get("/", params={"before": "1_a\x00b"}), 400)
        token = csrf_of(b.get("/compose").text)
        r = b.post(
            "/compose",
            data={"csrf": token, "to": to, "ch0_channel": "sms", "ch0_text": "a\x00b"},
        )
        assert_page(r, 400)
        assert "NUL character" in r.text


# -- strict integers ------------------------------------------------------------------------------


BAD_CURSOR = "99999999999999999999999_x"


def test_unicode_digits_and_out_of_range_paging_on_both_backends(backend_server: Server) -> None:
    srv = backend_server
    with closing(client(srv)) as c:
        for limit in ("²", "٣", "1_0", " 5", "+5", "0", "1001", "9" * 30, "-1", ""):
            r = c.get("/v1/sandbox/messages", params={"limit": limit})
            assert_error(r, 400, "105", "limit")
        assert c.get("/v1/sandbox/messages", params={"limit": "1000"}).status_code == 200
    with closing(signed_in(srv)) as b:
        for path, params in (
            ("/", {"before": BAD_CURSOR}),
            ("/", {"before": "²_x"}),
            ("/", {"before": "12_"}),
            ("/scheduled", {"after": BAD_CURSOR}),
            ("/search", {"q": "x", "before": BAD_CURSOR}),
            ("/search", {"q": "+372", "before": "-99999999999999999999_x"}),
        ):
            assert_page(b.get(path, params=params), 400)
        r = b.get("/inbox/events", params={"since": "²"})
        assert r.status_code == 400, r.text
        r = b.get("/inbox/events", headers={"Last-Event-ID": "1" * 40})
        assert r.status_code == 400, r.text
        # Cursors the site made itself still page.
        assert b.get("/", params={"before": "1700000000000000_x"}).status_code == 200
        assert b.get("/search", params={"q": "²"}).status_code == 200


# -- media type -----------------------------------------------------------------------------------


def test_only_json_bodies_are_read(shared_server: Server) -> None:
    with closing(client(shared_server)) as c:
        raw = json.dumps(sms(new_to())).encode()
        for ctype in (
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/jsonx",
            "application/json-patch+json",
            "",
        ):
            for path in ("/v1/omnimessage", "/v1/omnimessages"):
                assert_error(post_raw(c, path, raw, ctype), 415, "105", None)
        # Without any Content-Type header at all.
        r = c.post("/v1/omnimessage", content=raw)
        assert "content-type" not in r.request.headers
        assert_error(r, 415, "105", None)
        # A cross-site HTML form: form-encoded, with the browser's cached credentials.
        r = c.post("/v1/omnimessage", data={json.dumps(sms(new_to()))[:-1]: "x"})
        assert_error(r, 415, "105", None)
        # application/json with parameters, in any case, is read.
        for ctype in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
            r = post_raw(c, "/v1/omnimessage", json.dumps(sms(new_to())).encode(), ctype)
            assert r.status_code == 201, (ctype, r.text)
    # Credentials are checked first: an anonymous text/plain body is a 401, not a 415.
    r = httpx.post(
        f"{shared_server.url}/v1/omnimessage", content=raw, headers={"Content-Type": "text/plain"}
    )
    assert_error(r, 401, "103", None)


# -- duplicate keys -------------------------------------------------------------------------------


def test_duplicate_keys_are_refused_at_any_depth(shared_server: Server) -> None:
    to, other = new_to(), new_to()
    cases: list[tuple[str, bytes, str]] = [
        (
            "/v1/omnimessage",
            f'{{"to":"{to}","to":"{other}","messages":[{{"channel":"sms","text":"x"}}]}}'.encode(),
            "to",
        ),
        # The same key spelled with an escape is the same key.
        (
            "/v1/omnimessage",
            f'{{"to":"{to}","t\\u006f":"{other}","messages":[{{"channel":"sms","text":"x"}}]}}'.encode(),
            "to",
        ),
        # A colon spelled as an escape in a string must not hide a duplicate.
        (
            "/v1/omnimessage",
            f'{{"to":"{to}","messages":[{{"channel":"sms","text":"a\\u003ab","text":"c"}}]}}'.encode(),
            "messages[0].text",
        ),
        (
            "/v1/omnimessage",
            f'{{"to":"{to}","messages":[{{"channel":"whatsapp","text":{{"body":"a","body":"b"}}}}]}}'.encode(),
            "messages[0].text.body",
        ),
        (
            "/v1/omnimessages",
            f'{{"messages":[{{"to":"{to}","messages":[{{"channel":"sms","text":"x","channel":"sms"}}]}}]}}'.encode(),
            "messages[0].messages[0].channel",
        ),
    ]
    with closing(client(shared_server)) as c:
        for path, raw, source in cases:
            assert_error(post_raw(c, path, raw), 400, "105", source)
        for number in (to, other):
            assert c.get("/v1/sandbox/messages", params={"to": number}).json()["messages"] == []
        # Equal keys in different objects are no duplicates; colons in strings are no keys.
        fine = {
            "to": to,
            "dlr_url": None,
            "messages": [
                {"channel": "sms", "text": 'a: "b": {"c": 1}'},
                {"channel": "viber", "text": "x:y"},
            ],
        }
        r = c.post("/v1/omnimessage", json=fine)
        assert r.status_code == 201, r.text


# -- the old cases still answer in the error format ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "code", "source"),
    [
        (b'{"to": "+37251234567", "messages": [', 400, "105", None),
        (b'{"to": "+37251234567", "to": ', 400, "105", None),
        (b'{"to": 5, "messages": [{"channel": "sms", "text": "x"}]}', 400, "105", "to"),
        (b'{"to": "+37251234567", "messages": {"channel": "sms"}}', 400, "105", "messages"),
        (b"[" * 2000 + b"]" * 2000, 400, "105", None),
        (
            b'{"to": "+37251234567", "messages": [{"channel": "sms", "text": "'
            + b"x" * (1024 * 1024)
            + b'"}]}',
            413,
            "105",
            None,
        ),
    ],
    ids=["truncated", "truncated-after-key", "wrong-type", "wrong-shape", "too-deep", "too-large"],
)
def test_malformed_huge_and_wrong_bodies(
    shared_server: Server, raw: bytes, status: int, code: str, source: str | None
) -> None:
    with closing(client(shared_server)) as c:
        assert_error(post_raw(c, "/v1/omnimessage", raw), status, code, source)
