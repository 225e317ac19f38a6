"""The web console over plain HTTP: sign-in, sessions, CSRF, pages, live feed, API untouched."""

from __future__ import annotations

import re
import time
from contextlib import closing
from typing import Any

import httpx
import orjson

from tests.e2e.server import Server
from tests.waiting import wait_until


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def signed_in(
    server: Server, user: str = "alice", password: str = "alice-secret-pw"
) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=10)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "username": user, "password": password, "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    return c


def test_pages_need_a_session(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        for path in ("/", "/scheduled", "/compose", "/search", "/messages/x"):
            r = c.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next=")
        assert c.get("/inbox/events").status_code == 401


def test_sign_in_cookie_csrf_and_headers(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        page = c.get("/login")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        token = csrf_of(page.text)
        no_token = c.post("/login", data={"username": "alice", "password": "alice-secret-pw"})
        assert no_token.status_code == 403
        wrong = c.post("/login", data={"csrf": token, "username": "alice", "password": "nope"})
        assert wrong.status_code == 401
        ok = c.post(
            "/login",
            data={
                "csrf": token,
                "username": "alice",
                "password": "alice-secret-pw",
                "next": "//evil",
            },
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/"  # no open redirect
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert c.get("/").status_code == 200
        assert c.get("/static/console.css").headers["content-type"].startswith("text/css")


def test_sign_in_is_rate_limited(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        token = csrf_of(c.get("/login").text)
        answers = [
            c.post("/login", data={"csrf": token, "username": "bob", "password": "x"})
            for _ in range(7)
        ]
        assert [r.status_code for r in answers] == [401] * 5 + [429] * 2
        assert int(answers[5].headers["retry-after"]) >= 1


def test_compose_goes_through_the_api_path(server: Server) -> None:
    with closing(signed_in(server)) as c:
        token = csrf_of(c.get("/compose").text)
        bad = c.post("/compose", data={"csrf": token, "to": "+372", "ch0_channel": "sms"})
        assert bad.status_code == 400
        assert 'id="to-err"' in bad.text
        r = c.post(
            "/compose",
            data={
                "csrf": token,
                "to": "+3725557001",
                "ch0_channel": "viber",
                "ch0_text": "hi",
                "ch1_channel": "sms",
                "ch1_text": "hi",
                "time_to_send": "2030-01-01T10:00",
                "tz_offset": "-120",
            },
        )
        assert r.status_code == 400  # more than a year ahead: the API's own rule
        assert 'id="time_to_send-err"' in r.text
        soon = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600))
        r = c.post(
            "/compose",
            data={
                "csrf": token,
                "to": "+3725557001",
                "ch0_channel": "viber",
                "ch0_text": "hi",
                "ch1_channel": "sms",
                "ch1_text": "hi",
                "time_to_send": soon,
                "tz_offset": "0",
            },
        )
        assert r.status_code == 303
        omni_id = r.headers["location"].split("/messages/")[1].split("?")[0]
    status = httpx.get(f"{server.url}/v1/omnimessage/{omni_id}/status", auth=server.auth)
    body = status.json()
    assert [s["channel"] for s in body["statuses"]] == ["viber", "sms"]
    assert [s["status"] for s in body["statuses"]] == [None, None]


def test_cancel_and_foreign_ids(server: Server) -> None:
    soon = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600))
    mine = httpx.post(
        f"{server.url}/v1/omnimessage",
        json={
            "to": "+3725557002",
            "time_to_send": soon,
            "messages": [{"channel": "sms", "text": "x"}],
        },
        auth=server.auth,
    ).json()["omnimessage_id"]
    bobs = httpx.post(
        f"{server.url}/v1/omnimessage",
        json={
            "to": "+3725557003",
            "time_to_send": soon,
            "messages": [{"channel": "sms", "text": "x"}],
        },
        auth=("bob", "bob-secret-pw"),
    ).json()["omnimessage_id"]
    with closing(signed_in(server)) as c:
        token = csrf_of(c.get("/scheduled").text)
        assert c.get(f"/messages/{bobs}").status_code == 404
        assert c.post(f"/scheduled/{bobs}/cancel", data={"csrf": token}).status_code == 404
        assert c.post(f"/scheduled/{mine}/cancel", data={}).status_code == 403
        r = c.post(f"/scheduled/{mine}/cancel", data={"csrf": token})
        assert r.status_code == 303
        assert mine not in c.get("/scheduled").text.split("alert-ok")[-1]
    statuses = httpx.get(f"{server.url}/v1/omnimessage/{mine}/status", auth=server.auth).json()
    assert [s["status"] for s in statuses["statuses"]] == ["DELETED"]
    bob_status = httpx.get(
        f"{server.url}/v1/omnimessage/{bobs}/status", auth=("bob", "bob-secret-pw")
    ).json()
    assert [s["status"] for s in bob_status["statuses"]] == [None]


def test_live_feed_streams_new_inbox_messages(server: Server) -> None:
    with closing(signed_in(server)) as c:
        since = int(time.time() * 1_000_000) - 1
        with c.stream("GET", f"/inbox/events?since={since}", timeout=15) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            httpx.post(
                f"{server.url}/v1/omnimessage",
                json={"to": "+3725557004", "messages": [{"channel": "sms", "text": "live!"}]},
                auth=server.auth,
            )
            data = None
            for line in r.iter_lines():
                if line.startswith("data: "):
                    data = orjson.loads(line[6:])
                    break
    assert data is not None and data["to"] == "+3725557004"
    assert "live!" in data["html"]


def test_sessions_survive_a_restart_and_sign_out_ends_them(server: Server) -> None:
    c = signed_in(server)
    server.stop()
    server.start()
    assert c.get("/scheduled").status_code == 200  # the signing key lives in the database
    token = csrf_of(c.get("/scheduled").text)
    assert c.post("/logout", data={"csrf": token}).status_code == 303
    assert c.get("/scheduled").status_code == 303
    c.close()


def test_api_is_unchanged(server: Server) -> None:
    r = httpx.get(f"{server.url}/v1/nothing-here")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "101"
    json_body = {"Content-Type": "application/json"}
    r = httpx.post(
        f"{server.url}/v1/omnimessage", content=b"{", auth=server.auth, headers=json_body
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"


def test_timeline_shows_every_status_to_the_millisecond_and_agrees_with_the_api(
    server: Server,
) -> None:
    """The console's timeline reads the event log: ACK, DELIVRD and SEEN each with its own time,
    the last one the same status, at the same instant, as `GET .../status` answers."""
    with httpx.Client(base_url=server.url, auth=server.auth, timeout=10) as api:
        r = api.post(
            "/v1/omnimessage",
            json={
                "to": "+447700900100",  # sandbox script: the first channel is read (SEEN)
                "messages": [{"channel": "whatsapp", "text": {"body": "Read me"}}],
            },
        )
        assert r.status_code == 201, r.text
        omni = r.json()["omnimessage_id"]

        def seen() -> dict[str, Any] | None:
            st: dict[str, Any] = api.get(f"/v1/omnimessage/{omni}/status").json()["statuses"][0]
            return st if st["status"] == "SEEN" else None

        st = wait_until(seen, "SEEN", 20)
    with closing(signed_in(server)) as c:
        page = c.get(f"/messages/{omni}").text
    items = re.findall(
        r'<time datetime="([^"]+)">([^<]+)</time>\s*<div><p class="tl-title">([^<]+)</p>', page
    )
    statuses = [(iso, label, title) for iso, label, title in items if ": status " in title]
    assert [t.rsplit(" ", 1)[1] for _, _, t in statuses] == ["ACK", "DELIVRD", "SEEN"], items
    for iso, label, _ in statuses:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", label), label
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", iso), iso
    last_iso = statuses[-1][0]
    assert st["timestamp"].startswith(last_iso[:23]), (st["timestamp"], last_iso)
    assert any("claimed and handed to the channel" in t for _, _, t in items), items
