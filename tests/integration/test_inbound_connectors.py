"""Inbound messages from each HTTP connector's webhook, through the one entry for callbacks:
WhatsApp (text, media, button replies), Telegram (a bound chat; an unbound one is dropped),
RCS (user text, suggestion postbacks), Viber (Infobip inbound), the Messente relay. Each is
stored once, however often the provider replays it, and a wrongly signed one is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import orjson

from tests.integration import test_http_connectors_messente as relay_test
from tests.integration import test_http_connectors_rcs as rcs_test
from tests.integration import test_http_connectors_telegram as tg_test
from tests.integration import test_http_connectors_viber as vb_test
from tests.integration import test_http_connectors_whatsapp as wa_test
from tests.standins.gateway import Gateway, gateway
from tests.standins.rcs import RcsStandin
from tests.standins.runner import Served
from tests.standins.telegram import TelegramStandin
from tidings.core.inbound import InboundMessage
from tidings.store.records import InboundView

CLOSED = "http://127.0.0.1:9"  # nothing is sent in these tests


def _owned(config: dict[str, Any], name: str) -> dict[str, Any]:
    config["connectors"][name]["inbound_account"] = "alice"
    return config


async def _stored(gw: Gateway) -> list[InboundView]:
    alice = await gw.store.accounts.get("alice")
    assert alice is not None
    return await gw.store.inbound.page(alice.id, 0, 2**62, 100)


def _wa_body(*messages: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001055", "phone_number_id": "1055"},
        "contacts": [{"profile": {"name": "Mari"}, "wa_id": "37251000701"}],
        "messages": list(messages),
    }
    body = orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}],
        }
    )
    sig = hmac.new(wa_test.ENV["WA_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={sig}"}


def _wa(ident: str, kind: str, part: dict[str, Any]) -> dict[str, Any]:
    return {"from": "37251000701", "id": ident, "timestamp": "1764000000", "type": kind, kind: part}


async def test_whatsapp_text_media_and_buttons(tmp_path: Path, database_url: str) -> None:
    config = _owned(wa_test.config(CLOSED), "wa")
    async with gateway(tmp_path, config, wa_test.ENV, database_url) as gw:
        body = _wa_body(
            _wa("wamid.T", "text", {"body": "Tere 👋"}),
            _wa("wamid.I", "image", {"id": "media-1", "mime_type": "image/jpeg", "caption": "pic"}),
            _wa("wamid.B", "button", {"payload": "CONFIRM", "text": "Kinnitan"}),
            _wa(
                "wamid.R",
                "interactive",
                {"type": "button_reply", "button_reply": {"id": "yes", "title": "Jah"}},
            ),
            {"from": "37251000701", "type": "text"},  # no id: not a message we can keep
        )
        assert (await gw.callback("wa", *body)).status_code == 200
        rows = {r.text: r for r in await _stored(gw)}
        assert set(rows) == {"Tere 👋", "pic", "Kinnitan", "Jah"}
        assert all(r.sender == "+37251000701" and r.channel == "whatsapp" for r in rows.values())
        assert rows["Tere 👋"].at_us == 1764000000 * 1_000_000
        assert rows["Tere 👋"].recipient == "+15550001055"
        assert orjson.loads(rows["pic"].content or "")["media"]["id"] == "media-1"
        assert orjson.loads(rows["Jah"].content or "")["button"]["payload"] == "yes"
        assert orjson.loads(rows["Kinnitan"].content or "")["button"]["payload"] == "CONFIRM"
        # A replay changes nothing; a forged one is refused before anything is read.
        assert (await gw.callback("wa", *body)).status_code == 200
        forged = (body[0].replace(b"Tere", b"Tera"), body[1])
        assert (await gw.callback("wa", *forged)).status_code == 403
        assert len(await _stored(gw)) == 4


async def test_telegram_bound_chat_and_button_press(tmp_path: Path) -> None:
    standin = TelegramStandin()
    with Served(standin.app()) as url:
        config = _owned(tg_test.config(url), "tg")
        async with gateway(tmp_path, config, tg_test.ENV) as gw:
            phone = "+37251000702"
            bound = standin.update(standin.contact_message(7001, phone, 7001))
            assert (await gw.callback("tg", *bound)).status_code == 200
            text = {
                "message_id": 11,
                "from": {"id": 7001, "is_bot": False, "first_name": "Mari"},
                "chat": {"id": 7001, "type": "private"},
                "date": int(time.time()),
                "text": "Aitäh!",
            }
            assert (await gw.callback("tg", *standin.update(text))).status_code == 200
            photo = {**text, "message_id": 12, "caption": "look", "photo": [{"file_id": "f1"}]}
            photo.pop("text")
            assert (await gw.callback("tg", *standin.update(photo))).status_code == 200
            stranger = {**text, "chat": {"id": 7002, "type": "private"}, "message_id": 13}
            assert (await gw.callback("tg", *standin.update(stranger))).status_code == 200
            press = orjson.dumps(
                {
                    "update_id": 99,
                    "callback_query": {
                        "id": "cbq-1",
                        "from": {"id": 7001},
                        "message": {"message_id": 11, "chat": {"id": 7001}},
                        "data": "yes",
                    },
                }
            )
            headers = {"X-Telegram-Bot-Api-Secret-Token": tg_test.ENV["TG_SECRET"]}
            assert (await gw.callback("tg", press, headers)).status_code == 200
            assert (await gw.callback("tg", *standin.update(text))).status_code == 200  # replay
            rows = {r.text: r for r in await _stored(gw)}
            assert set(rows) == {"Aitäh!", "look", "yes"}
            assert {r.sender for r in rows.values()} == {phone}
            assert rows["Aitäh!"].recipient == "@TidingsBot"
            assert orjson.loads(rows["look"].content or "")["media"]["id"] == "f1"


def _rcs(standin: RcsStandin, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    data = orjson.dumps(event)
    body = orjson.dumps({"message": {"data": base64.b64encode(data).decode(), "messageId": "p"}})
    mac = hmac.new(standin.client_token.encode(), data, hashlib.sha512).digest()
    return body, {
        "Content-Type": "application/json",
        "X-Goog-Signature": base64.b64encode(mac).decode(),
    }


async def test_rcs_user_text_and_suggestion_postback(tmp_path: Path) -> None:
    standin = RcsStandin(base_url=CLOSED)
    config = _owned(rcs_test.config(standin), "rbm")
    async with gateway(tmp_path, config, rcs_test.env(standin)) as gw:
        base = {"senderPhoneNumber": "+37251000703", "agentId": "agent-1"}
        text = {**base, "messageId": "u-1", "sendTime": "2026-11-27T10:00:01.5Z", "text": "Hi"}
        postback = {
            **base,
            "messageId": "u-2",
            "suggestionResponse": {"postbackData": "book_10", "text": "10:00", "type": "REPLY"},
        }
        for event in (text, postback, text):
            assert (await gw.callback("rbm", *_rcs(standin, event))).status_code == 200
        rows = {r.text: r for r in await _stored(gw)}
        assert set(rows) == {"Hi", "10:00"}
        assert rows["Hi"].recipient == "agent-1" and rows["Hi"].channel == "rcs"
        assert orjson.loads(rows["10:00"].content or "")["postback"]["data"] == "book_10"


async def test_viber_inbound_through_infobip(tmp_path: Path) -> None:
    config = _owned(vb_test.config(CLOSED), "vb")
    async with gateway(tmp_path, config, vb_test.ENV) as gw:
        result = {
            "from": "37251000704",
            "to": "AliceShop",
            "integrationType": "VIBER",
            "receivedAt": "2026-11-27T10:00:00.000+0000",
            "messageId": "ib-in-1",
            "message": {"type": "TEXT", "text": "Kas on laos?"},
        }
        body = orjson.dumps({"results": [result]})
        url = f"/providers/vb/webhook?token={vb_test.SECRET}"
        headers = {"Content-Type": "application/json"}
        for _ in range(2):
            r = await gw.client.post(url, content=body, headers=headers)
            assert r.status_code == 200, r.text
        (row,) = await _stored(gw)
        assert (row.sender, row.text, row.recipient) == (
            "+37251000704",
            "Kas on laos?",
            "AliceShop",
        )


async def test_messente_relay_inbound(tmp_path: Path) -> None:
    config = _owned(relay_test.config(CLOSED), "up")
    async with gateway(tmp_path, config, relay_test.ENV) as gw:
        body = orjson.dumps(
            {
                "msg_id": "7b4b8b36-6b0c-4c5c-9a39-9c1c4e1c2a01",
                "sub_msg_id": "7b4b8b36-6b0c-4c5c-9a39-9c1c4e1c2a02",
                "channel": "sms",
                "recipient": "1234",
                "time": "2021-02-23T14:51:13.000000Z",
                "text": "STOPP",
                "sender": "+37251000705",
            }
        )
        key = relay_test.ENV["UP_PASSWORD"].encode()
        sig = hmac.new(key, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Messente-Signature": sig}
        for _ in range(2):
            assert (await gw.callback("up", body, headers)).status_code == 200
        (row,) = await _stored(gw)
        assert (row.sender, row.recipient, row.text) == ("+37251000705", "1234", "STOPP")
        assert row.at_us == 1614091873 * 1_000_000


async def test_nul_and_overlong_values_never_fail(tmp_path: Path, database_url: str) -> None:
    async with gateway(
        tmp_path, _owned(wa_test.config(CLOSED), "wa"), wa_test.ENV, database_url
    ) as gw:
        bad = [
            InboundMessage("k\x00", "sms", "+37251000706", "x", "a", 1),
            InboundMessage("k2", "sms", "+37251000706", "x", "a\x00b" + "c" * 20_000, 1),
        ]
        out = await gw.engine.callbacks.receive("wa", bad)
        (stored,) = out.inbound
        assert stored.message.text.startswith("a\ufffdb") and len(stored.message.text) == 16_384
        body = _wa_body(_wa("wamid.X", "text", {"body": "t\x00"}) | {"timestamp": "1e400"})
        assert (await gw.callback("wa", *body)).status_code == 200
        texts = {r.text for r in await _stored(gw)}
        assert "t\ufffd" in texts
