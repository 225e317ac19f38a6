"""Inbound (MO) messages end to end, against the real `tidings serve`: an SMS from the SMPP peer
(one UCS-2 part, and a UCS-2 message in three concatenated parts), a signed WhatsApp webhook
and a Telegram update from a bound chat each reach a receiver on the account's inbound URL,
signed, and show in the console's conversation; a replayed webhook changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.receiver import Receiver
from tests.e2e.server import Server, free_port, run_cli
from tests.e2e.test_console_http import signed_in
from tests.peers.py_smsc import PASSWORD, SYSTEM_ID, PySmsc
from tests.waiting import wait_until
from tidings.webhooks.signing import messente_signature

CUSTOMER = "+37255000111"
WA_SECRET = "wa-app-secret"
TG_SECRET = "tg-webhook-secret"


@contextmanager
def smsc() -> Iterator[tuple[PySmsc, asyncio.AbstractEventLoop]]:
    """The Python SMSC peer on its own event loop in a background thread."""
    peer = PySmsc()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(peer.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "SMSC peer did not start"
    try:
        yield peer, loop
    finally:
        asyncio.run_coroutine_threadsafe(peer.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def _config(smsc_port: int) -> str:
    closed = free_port()  # nothing is sent to WhatsApp or Telegram here
    return f"""
[connectors.smsc]
type = "smpp"
host = "127.0.0.1"
port = {smsc_port}
system_id = "{SYSTEM_ID}"
password = "{PASSWORD}"

[connectors.wa]
type = "whatsapp"
base_url = "http://127.0.0.1:{closed}"
phone_number_id = "1055"
access_token = "token"
app_secret = "{WA_SECRET}"
verify_token = "verify-me"
inbound_account = "alice"

[connectors.tg]
type = "telegram"
base_url = "http://127.0.0.1:{closed}"
bot_token = "123:abc"
webhook_secret = "{TG_SECRET}"
bot_username = "TidingsBot"
inbound_account = "alice"

[routes]
sms = "smsc"
"""


def _whatsapp(text: str, wamid: str) -> tuple[bytes, dict[str, str]]:
    message = {"from": "37251000801", "id": wamid, "timestamp": "1764000000", "type": "text"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001055", "phone_number_id": "1055"},
        "messages": [{**message, "text": {"body": text}}],
    }
    body = orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"value": value}]}],
        }
    )
    sig = hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={sig}"}


def _telegram(message: dict[str, Any], update_id: int) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"update_id": update_id, "message": message})
    return body, {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET}


def test_inbound_from_smpp_whatsapp_and_telegram(tmp_path: Path, receiver: Receiver) -> None:
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    added = run_cli(
        "accounts",
        "add",
        "alice",
        "--password",
        "alice-secret-pw",
        "--sender",
        "AliceCo",
        database=database,
    )
    secret = added.stdout.split("signing secret: ")[1].split()[0]
    run_cli("accounts", "set", "alice", "--inbound-url", receiver.url, database=database)
    with smsc() as (peer, loop):
        config = tmp_path / "tidings.toml"
        config.write_text(_config(peer.port))
        env = {"TIDINGS_CONFIG": str(config), "TIDINGS_WEBHOOK_ALLOW": "127.0.0.0/8"}
        srv = Server(tmp_path, database, env=env)
        srv.start()
        try:
            _exercise(srv, peer, loop, receiver, secret)
        finally:
            srv.stop(signal.SIGTERM)


def _exercise(
    srv: Server, peer: PySmsc, loop: asyncio.AbstractEventLoop, receiver: Receiver, secret: str
) -> None:
    with srv.client() as c:
        # Alice writes to the customer through the SMSC: she owns the customer's answers.
        r = c.post(
            "/v1/omnimessage",
            json={"to": CUSTOMER, "messages": [{"channel": "sms", "text": "Kas tuled?"}]},
        )
        assert r.status_code == 201, r.text
        omni = r.json()["omnimessage_id"]
        wait_until(
            lambda: (
                c.get(f"/v1/omnimessage/{omni}/status").json()["statuses"][0]["status"] == "DELIVRD"
            ),
            "the SMS delivered",
        )
    short = "Jah, tulen! 😀"
    long = "Привет! Это длинный ответ, который не помещается в одно сообщение. " * 3
    for text in (short, long):
        parts = asyncio.run_coroutine_threadsafe(
            peer.send_mo(CUSTOMER[1:], "AliceCo", text), loop
        ).result(10)
        assert parts == (1 if text == short else 3)
    got = receiver.wait_for(2)
    assert len(got) == 2, [g.json for g in got]
    by_text = {g.json["text"]: g for g in got}
    assert set(by_text) == {short, long}
    for g in got:
        assert g.headers["x-messente-signature"] == messente_signature(secret, g.body)
        body = g.json
        assert (body["sender"], body["channel"], body["recipient"]) == (CUSTOMER, "sms", "AliceCo")
        assert body["connector"] == "smsc" and body["msg_id"] == body["sub_msg_id"]

    # A signed WhatsApp webhook, then its replay.
    wa = _whatsapp("WhatsApp: olen teel", "wamid.E2E1")
    for _ in range(2):
        r = httpx.post(f"{srv.url}/providers/wa/webhook", content=wa[0], headers=wa[1])
        assert r.status_code == 200, r.text
    # A Telegram chat bound to a phone by a shared contact, then a message from it.
    chat = {"id": 8801, "type": "private"}
    contact: dict[str, Any] = {
        "message_id": 1,
        "from": {"id": 8801, "is_bot": False, "first_name": "Mari"},
        "chat": chat,
        "date": int(time.time()),
        "contact": {"phone_number": "37251000802", "first_name": "Mari", "user_id": 8801},
    }
    said: dict[str, Any] = {**contact, "message_id": 2, "text": "Telegram: jõuan kell 10"}
    said.pop("contact")
    for update_id, message in ((1, contact), (2, said)):
        r = httpx.post(
            f"{srv.url}/providers/tg/webhook",
            content=_telegram(message, update_id)[0],
            headers=_telegram(message, update_id)[1],
        )
        assert r.status_code == 200, r.text
    got = receiver.wait_for(4)
    texts = [g.json["text"] for g in got]
    assert texts.count("WhatsApp: olen teel") == 1, texts  # the replay queued nothing
    assert "Telegram: jõuan kell 10" in texts
    for g in got:
        assert g.headers["x-messente-signature"] == messente_signature(secret, g.body)
    wa_body = next(g.json for g in got if g.json["channel"] == "whatsapp")
    assert wa_body["sender"] == "+37251000801" and wa_body["time"] == "2025-11-24T16:00:00.000000Z"
    tg_body = next(g.json for g in got if g.json["channel"] == "telegram")
    assert tg_body["sender"] == "+37251000802" and tg_body["recipient"] == "@TidingsBot"

    # Each shows in the console, in its number's conversation, once.
    with closing(signed_in(srv)) as console:
        page = html.unescape(console.get("/").text)
    for expected in (short, long.strip(), "WhatsApp: olen teel", "Telegram: jõuan kell 10"):
        assert page.count(expected) == 1, expected
    for number in (CUSTOMER, "+37251000801", "+37251000802"):
        assert f'data-to="{number}"' in page


def test_inbound_url_from_the_cli(tmp_path: Path, receiver: Receiver) -> None:
    """`--inbound-url` is checked, set, cleared ('') and set again, each at once in the running
    server; a reply received while it is cleared is stored but goes nowhere."""
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    bad = run_cli(
        "accounts", "add", "alice", "--password", "alice-secret-pw", "--inbound-url",
        "ftp://example.com/in", database=database, check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "--inbound-url" in bad.stderr
    run_cli(
        "accounts", "add", "alice", "--password", "alice-secret-pw", "--inbound-url",
        receiver.url, database=database,
    )  # fmt: skip
    srv = Server(tmp_path, database, env={"TIDINGS_WEBHOOK_ALLOW": "127.0.0.0/8"})
    srv.start()
    try:
        with srv.client() as c:

            def reply(text: str) -> None:
                body = {"from": CUSTOMER, "channel": "sms", "text": text}
                r = c.post("/v1/sandbox/inbound", json=body)
                assert r.status_code == 201, r.text

            reply("A")
            receiver.wait_for(1)
            run_cli("accounts", "set", "alice", "--inbound-url", "", database=database)
            reply("B")
            run_cli("accounts", "set", "alice", "--inbound-url", receiver.url, database=database)
            reply("C")
            got = receiver.wait_for(2)
            assert [g.json["text"] for g in got] == ["A", "C"]
    finally:
        srv.stop(signal.SIGTERM)
