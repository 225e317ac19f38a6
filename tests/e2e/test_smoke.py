from __future__ import annotations

import signal

from tests.e2e.server import Server


def test_send_and_stop_cleanly(server: Server) -> None:
    with server.client() as c:
        r = c.post(
            "/v1/omnimessage",
            json={"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}]},
        )
        assert r.status_code == 201, r.text
        assert r.json()["messages"][0]["sender"] == "AliceCo"
    assert server.stop(signal.SIGTERM) == 0


def test_trailing_slash_is_a_plain_404(server: Server) -> None:
    with server.client(follow_redirects=False) as c:
        r = c.post("/v1/omnimessage/", json={})
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "101"
