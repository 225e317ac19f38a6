"""The fallback walk and its delivery-report webhooks, driven by the official client."""

from __future__ import annotations

import hashlib
import hmac
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import messente_api as m
import pytest
from standardwebhooks import Webhook

from tests.e2e.receiver import Receiver
from tests.e2e.server import Server, run_cli
from tests.waiting import settle, wait_until

ALLOW_LOOPBACK = {
    "TIDINGS_WEBHOOK_ALLOW": "127.0.0.0/8",
    # 0.3 s apart for a minute: short enough to keep the tests quick, long enough that a slow
    # restart on a loaded CI machine cannot exhaust the schedule before the receiver is back.
    "TIDINGS_WEBHOOK_RETRY_SCHEDULE": ",".join(["0"] + ["0.3"] * 200),
    "TIDINGS_WEBHOOK_TIMEOUT_SECONDS": "1",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hook_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server with loopback webhooks allowed, on each backend."""
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path / 'tidings.db'}"
    else:
        database = request.getfixturevalue("pg_database")
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=database)
    srv = Server(tmp_path, database, env=dict(ALLOW_LOOPBACK))
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


def _secret(server: Server) -> str:
    out = run_cli("accounts", "list", database=server.database).stdout
    line = next(x for x in out.splitlines() if x.startswith("alice "))
    return line.split()[-1]


def _api(server: Server) -> tuple[m.OmnimessageApi, m.DeliveryReportApi]:
    cfg = m.Configuration(
        host=server.url + "/v1", username=server.username, password=server.password
    )
    client = m.ApiClient(cfg)
    return m.OmnimessageApi(client), m.DeliveryReportApi(client)


def _send(server: Server, to: str, messages: list[Any], **kw: Any) -> str:
    api, _ = _api(server)
    wrapped = [m.OmnimessageMessagesInner(x) for x in messages]
    return str(api.send_omnimessage(m.Omnimessage(to=to, messages=wrapped, **kw)).omnimessage_id)


def _wait_status(
    server: Server, omni: str, done: Any, timeout: float = 15.0
) -> m.DeliveryReportResponse:
    _, reports = _api(server)
    last: list[m.DeliveryReportResponse] = []

    def check() -> bool:
        last[:] = [reports.retrieve_delivery_report(omni)]
        return bool(done(last[0]))

    settle(check, timeout)
    return last[0]


def _trail(received: list[Any], omni: str) -> list[tuple[str, str]]:
    return [
        (r.json["channel"], r.json["status"]) for r in received if r.json["omnimessage_id"] == omni
    ]


def test_whatsapp_undelivered_viber_silent_sms_delivered(
    hook_server: Server, receiver: Receiver
) -> None:
    omni = _send(
        hook_server,
        "+447700900250",
        [
            m.WhatsApp(channel="whatsapp", text=m.WhatsAppText(body="Your order shipped")),
            m.Viber(channel="viber", text="Your order shipped", ttl=2),
            m.SMS(channel="sms", text="Your order shipped"),
        ],
        dlr_url=receiver.url,
    )
    st = _wait_status(hook_server, omni, lambda s: s.statuses[2].status == "DELIVRD")
    assert [(s.channel, s.status, s.err) for s in st.statuses] == [
        ("whatsapp", "UNDELIV", 1),
        ("viber", "EXPIRED", 2),
        ("sms", "DELIVRD", 0),
    ]
    assert all(s.timestamp is not None and s.sender for s in st.statuses)
    got = receiver.wait_for(5)
    assert _trail(got, omni) == [
        ("whatsapp", "ACK"),
        ("whatsapp", "UNDELIV"),
        ("viber", "EXPIRED"),
        ("sms", "ACK"),
        ("sms", "DELIVRD"),
    ]
    with hook_server.client() as c:
        inbox = c.get("/v1/sandbox/messages", params={"to": "+447700900250"}).json()["messages"]
    assert [x["channel"] for x in inbox] == ["sms"]  # nothing else was delivered
    viber_expired = next(r for r in got if r.json["channel"] == "viber").json["timestamp"]
    sms_at = datetime.fromisoformat(inbox[0]["delivered_at"])
    assert sms_at >= datetime.fromisoformat(viber_expired)
    whatsapp_fail = datetime.fromisoformat(got[1].json["timestamp"])
    assert sms_at - whatsapp_fail >= timedelta(seconds=2), "SMS before Viber's ttl ran out"


def test_every_channel_failing_ends_failed(hook_server: Server, receiver: Receiver) -> None:
    omni = _send(
        hook_server,
        "+447700900237",  # undelivered, rejected at submit, invalid number
        [
            m.WhatsApp(channel="whatsapp", text=m.WhatsAppText(body="hi")),
            m.Viber(channel="viber", text="hi"),
            m.SMS(channel="sms", text="hi"),
        ],
        dlr_url=receiver.url,
    )
    st = _wait_status(hook_server, omni, lambda s: s.statuses[2].status not in (None, "ACK"))
    assert [(s.status, s.err) for s in st.statuses] == [
        ("UNDELIV", 1),
        ("REJECTD", 9),
        ("FAILED", 3),
    ]
    assert _trail(receiver.wait_for(5), omni) == [
        ("whatsapp", "ACK"),
        ("whatsapp", "UNDELIV"),
        ("viber", "REJECTD"),
        ("sms", "ACK"),
        ("sms", "FAILED"),
    ]


def test_reports_are_signed_with_both_schemes(hook_server: Server, receiver: Receiver) -> None:
    secret = _secret(hook_server)
    _send(hook_server, "+37251234567", [m.SMS(channel="sms", text="signed")], dlr_url=receiver.url)
    got = receiver.wait_for(2)
    assert len(got) == 2
    for r in got:
        expected = hmac.new(secret.encode(), r.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(r.headers["x-messente-signature"], expected)
        Webhook(secret.encode()).verify(r.body, r.headers)  # raises when the signature is wrong
        assert r.headers["content-type"] == "application/json"
        body = r.json
        assert set(body) >= {
            "status",
            "channel",
            "message_id",
            "sender",
            "err",
            "error",
            "timestamp",
            "to",
            "omnimessage_id",
        }
    tampered = got[0].body.replace(b"ACK", b"NAK")
    with pytest.raises(Exception):  # noqa: B017 - the library raises its own error type
        Webhook(secret.encode()).verify(tampered, got[0].headers)


def test_failing_receiver_and_restart_lose_nothing(hook_server: Server, receiver: Receiver) -> None:
    receiver.status = 500
    ids = [
        _send(
            hook_server,
            "+447700900010",
            [m.Viber(channel="viber", text=f"n{i}"), m.SMS(channel="sms", text=f"n{i}")],
            dlr_url=receiver.url,
        )
        for i in range(3)
    ]
    wait_until(lambda: receiver.answered, "the receiver's first answers", 30)
    assert set(receiver.answered) == {500}
    port = receiver.port
    receiver.stop()  # down: connection refused
    time.sleep(0.5)
    assert hook_server.stop(signal.SIGTERM) == 0
    hook_server.start()
    time.sleep(0.5)
    receiver.status = 200
    receiver.start(port)
    # Each omnimessage: viber ACK, DELIVRD, SEEN (digit 1 on the second position is for SMS; the
    # first channel's digit 0 means delivered): 2 reports each.
    # The retries come on their back-off schedule (with jitter, after several failures): wait
    # until every report has arrived rather than for a fixed time.
    expected = [("viber", "ACK"), ("viber", "DELIVRD")]
    settle(lambda: all(_trail(list(receiver.received), omni) == expected for omni in ids), 120)
    time.sleep(1.0)  # anything sent twice after a 2xx would arrive now
    got = list(receiver.received)
    for omni in ids:
        trail = _trail(got, omni)
        assert trail == [("viber", "ACK"), ("viber", "DELIVRD")], trail
    keys = [(r.json["message_id"], r.json["status"]) for r in got]
    assert len(keys) == len(set(keys)), "a report arrived twice after a 2xx"


def test_loopback_dlr_url_refused_without_allow_list(server: Server, receiver: Receiver) -> None:
    with server.client() as c:
        r = c.post(
            "/v1/omnimessage",
            json={
                "to": "+37251234567",
                "dlr_url": receiver.url,
                "messages": [{"channel": "sms", "text": "x"}],
            },
        )
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["source"] == "dlr_url" and err["code"] == "105"
    for url in [
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://0x7f.1/",
    ]:
        with server.client() as c:
            r = c.post(
                "/v1/omnimessage",
                json={
                    "to": "+37251234567",
                    "dlr_url": url,
                    "messages": [{"channel": "sms", "text": "x"}],
                },
            )
        assert r.status_code == 400, url


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost./dlr",
        "http://a.localhost/dlr",
        "http://127.0.0.1./dlr",
        "http://2130706433./dlr",
        "http://10.0.0.1./dlr",
    ],
)
def test_loopback_names_and_trailing_dots_refused_at_send(shared_server: Server, url: str) -> None:
    with shared_server.client() as c:
        r = c.post(
            "/v1/omnimessage",
            json={
                "to": "+37251234567",
                "dlr_url": url,
                "messages": [{"channel": "sms", "text": "x"}],
            },
        )
    assert r.status_code == 400, (url, r.text)
    err = r.json()["errors"][0]
    assert err["source"] == "dlr_url" and err["code"] == "105"


def test_cancelled_chain_sends_nothing(hook_server: Server, receiver: Receiver) -> None:
    api, reports = _api(hook_server)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    omni = _send(
        hook_server,
        "+37251234500",
        [
            m.WhatsApp(channel="whatsapp", text=m.WhatsAppText(body="a")),
            m.Viber(channel="viber", text="b"),
            m.SMS(channel="sms", text="c"),
        ],
        time_to_send=at,
        dlr_url=receiver.url,
    )
    assert api.cancel_scheduled_message(omni) == {}
    time.sleep(2.0)
    st = reports.retrieve_delivery_report(omni)
    assert [s.status for s in st.statuses] == ["DELETED", "DELETED", "DELETED"]
    with hook_server.client() as c:
        assert c.get("/v1/sandbox/messages", params={"to": "+37251234500"}).json()["messages"] == []
    assert sorted(_trail(receiver.wait_for(3), omni)) == sorted(
        [("whatsapp", "DELETED"), ("viber", "DELETED"), ("sms", "DELETED")]
    )


def test_account_default_dlr_url(hook_server: Server, receiver: Receiver) -> None:
    run_cli("accounts", "set", "alice", "--dlr-url", receiver.url, database=hook_server.database)
    hook_server.stop()
    hook_server.start()  # account settings are cached per process for a minute
    omni = _send(hook_server, "+37251234501", [m.SMS(channel="sms", text="default url")])
    assert _trail(receiver.wait_for(2), omni) == [("sms", "ACK"), ("sms", "DELIVRD")]


def test_gone_stops_retries_for_that_url(hook_server: Server, receiver: Receiver) -> None:
    receiver.status = 410
    omni = _send(
        hook_server, "+37251234502", [m.SMS(channel="sms", text="gone")], dlr_url=receiver.url
    )
    _wait_status(hook_server, omni, lambda s: s.statuses[0].status == "DELIVRD")
    time.sleep(1.5)  # several retry periods of the test schedule
    assert receiver.answered == [410], "retried after 410 Gone"
