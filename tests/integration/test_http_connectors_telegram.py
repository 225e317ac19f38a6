"""Telegram Bot API connector and the phone -> chat id registry, against a local stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins.gateway import Gateway, gateway
from tests.standins.runner import Served
from tests.standins.telegram import TelegramStandin

TO = "+37251000201"
CHAT = 777001


@pytest.fixture
def tg() -> Iterator[tuple[TelegramStandin, str]]:
    standin = TelegramStandin()
    with Served(standin.app()) as url:
        yield standin, url


def config(url: str) -> dict[str, Any]:
    return {
        "connectors": {
            "tg": {
                "type": "telegram",
                "base_url": url,
                "bot_token_env": "TG_TOKEN",
                "webhook_secret_env": "TG_SECRET",
                "bot_username": "TidingsBot",
            }
        },
        "routes": {"telegram": "tg"},
    }


ENV = {"TG_TOKEN": "123456:bot-token", "TG_SECRET": "tg-webhook-secret"}
TEXT = {"channel": "telegram", "text": "Hello on Telegram"}
SMS = {"channel": "sms", "text": "Hello by SMS"}


async def _link(gw: Gateway, standin: TelegramStandin, phone: str, chat_id: int) -> None:
    r = await gw.client.post("/providers/tg/telegram/links", json={"phone": phone})
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["url"] == f"https://t.me/TidingsBot?start={link['token']}"
    upd = standin.update(standin.start_message(chat_id, link["token"]))
    assert (await gw.callback("tg", *upd)).status_code == 200


async def test_deep_link_binds_and_message_is_sent(
    tmp_path: Path, tg: tuple[TelegramStandin, str]
) -> None:
    standin, url = tg
    async with gateway(tmp_path, config(url), ENV) as gw:
        await _link(gw, standin, TO, CHAT)
        omni = await gw.send(TO, TEXT, SMS)
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert st[1]["status"] is None  # the chain stopped at Telegram
        _, method, body = standin.received[-1]
        assert method == "sendMessage"
        assert body == {"chat_id": CHAT, "text": "Hello on Telegram"}


async def test_media_uses_the_matching_method(
    tmp_path: Path, tg: tuple[TelegramStandin, str]
) -> None:
    standin, url = tg
    async with gateway(tmp_path, config(url), ENV) as gw:
        await _link(gw, standin, TO, CHAT)
        img = {"channel": "telegram", "text": "look", "image_url": "https://x.test/a.png"}
        omni = await gw.send(TO, img)
        await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        _, method, body = standin.received[-1]
        assert method == "sendPhoto"
        assert body == {"chat_id": CHAT, "photo": "https://x.test/a.png", "caption": "look"}


async def test_link_token_is_single_use_and_secret_is_checked(
    tmp_path: Path, tg: tuple[TelegramStandin, str]
) -> None:
    standin, url = tg
    async with gateway(tmp_path, config(url), ENV) as gw:
        r = await gw.client.post("/providers/tg/telegram/links", json={"phone": TO})
        token = r.json()["token"]
        forged = standin.update(standin.start_message(999, token), secret="wrong")
        assert (await gw.callback("tg", *forged)).status_code == 403
        assert await gw.store.providers.telegram_chat_ids("tg", [TO]) == {}
        ok = standin.update(standin.start_message(CHAT, token))
        assert (await gw.callback("tg", *ok)).status_code == 200
        again = standin.update(standin.start_message(999, token))
        assert (await gw.callback("tg", *again)).status_code == 200
        assert await gw.store.providers.telegram_chat_ids("tg", [TO]) == {TO: CHAT}
        # the link endpoint needs the account's credentials
        anon = await gw.client.post(
            "/providers/tg/telegram/links", json={"phone": TO}, auth=("alice", "wrong")
        )
        assert anon.status_code == 401


async def test_shared_contact_binds_only_own_number(
    tmp_path: Path, tg: tuple[TelegramStandin, str]
) -> None:
    standin, url = tg
    async with gateway(tmp_path, config(url), ENV) as gw:
        other = standin.update(standin.contact_message(CHAT, TO.lstrip("+"), user_id=424242))
        assert (await gw.callback("tg", *other)).status_code == 200
        assert await gw.store.providers.telegram_chat_ids("tg", [TO]) == {}
        own = standin.update(standin.contact_message(CHAT, TO.lstrip("+"), user_id=CHAT))
        assert (await gw.callback("tg", *own)).status_code == 200
        assert await gw.store.providers.telegram_chat_ids("tg", [TO]) == {TO: CHAT}


async def test_no_mapping_is_rejected_at_once_and_sms_follows(
    tmp_path: Path, tg: tuple[TelegramStandin, str]
) -> None:
    standin, url = tg
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, TEXT, SMS)
        st = await gw.wait_status(omni, lambda s: s[1]["status"] == "DELIVRD")
        assert st[0]["status"] == "REJECTD" and st[0]["err"] == 9
        assert standin.received == []


async def test_blocked_bot_rejects_and_forgets_the_chat(
    tmp_path: Path, tg: tuple[TelegramStandin, str]
) -> None:
    standin, url = tg
    standin.behaviour[CHAT] = "blocked"
    async with gateway(tmp_path, config(url), ENV) as gw:
        await _link(gw, standin, TO, CHAT)
        omni = await gw.send(TO, TEXT, SMS)
        st = await gw.wait_status(omni, lambda s: s[1]["status"] == "DELIVRD")
        assert st[0]["status"] == "REJECTD" and st[0]["err"] == 9
        assert await gw.store.providers.telegram_chat_ids("tg", [TO]) == {}


async def test_rate_limit_retries_after_retry_after(
    tmp_path: Path, tg: tuple[TelegramStandin, str]
) -> None:
    standin, url = tg
    standin.behaviour[CHAT] = "rate_limit"
    async with gateway(tmp_path, config(url), ENV) as gw:
        await _link(gw, standin, TO, CHAT)
        omni = await gw.send(TO, TEXT)
        await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert len(standin.received) == 2
        assert standin.received[1][0] - standin.received[0][0] >= 0.9
