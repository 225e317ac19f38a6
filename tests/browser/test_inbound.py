"""Replies in the console's phone view, in a real Chromium: answer as the recipient from the
reply box and see the answer in the conversation; a reply simulated through the API appears
live, without a reload."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.browser.conftest import Console
from tests.browser.test_console import api_send
from tests.e2e.server import Server

pytestmark = pytest.mark.browser


def _number(prefix: str) -> str:
    return prefix + str(uuid.uuid4().int % 1000).zfill(3)


def test_reply_from_the_phone_view(console: Console, console_server: Server) -> None:
    number = _number("+3725553")
    api_send(console_server, {"to": number, "messages": [{"channel": "sms", "text": "Kas tuled?"}]})
    console.sign_in()
    page = console.page
    phone = page.locator(f".phone[data-to='{number}']")
    phone.locator(".inbox-item").first.wait_for(state="visible", timeout=15_000)
    phone.get_by_label(f"Reply as {number}").fill("Jah, tulen kell 10 😀")
    phone.get_by_label("Channel").select_option("whatsapp")
    phone.get_by_role("button", name="Send reply").click()
    page.wait_for_url(console.base + "/#r-*")
    reply = page.locator(f".phone[data-to='{number}'] .inbox-item.reply").first
    reply.wait_for(state="visible")
    assert "Jah, tulen kell 10 😀" in reply.inner_text()
    assert f"reply from {number}" in reply.inner_text()
    assert "WhatsApp" in reply.inner_text()
    # Newest first: the reply above the message it answers, in the same conversation.
    items = page.locator(f".phone[data-to='{number}'] .inbox-item")
    assert items.count() == 2 and "reply" in (items.first.get_attribute("class") or "")
    console.shot("10-inbox-reply")


def test_reply_through_the_api_appears_live(console: Console, console_server: Server) -> None:
    console.sign_in()
    page = console.page
    page.evaluate("window.__notReloaded = true")
    number = _number("+3725554")
    r = httpx.post(
        f"{console_server.url}/v1/sandbox/inbound",
        json={"from": number, "channel": "sms", "text": "Tere, kas saab aega muuta?"},
        auth=console_server.auth,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    reply = page.locator(f".phone[data-to='{number}'] .inbox-item.reply")
    reply.wait_for(state="visible", timeout=15_000)
    assert page.evaluate("window.__notReloaded") is True
    assert "Tere, kas saab aega muuta?" in reply.inner_text()
    # The new phone has a working reply box of its own.
    box = page.locator(f".phone[data-to='{number}'] .reply-box")
    assert box.locator("input[name=from]").input_value() == number
    box.get_by_label(f"Reply as {number}").fill("Muidugi")
    box.get_by_role("button", name="Send reply").click()
    page.wait_for_url(console.base + "/#r-*")
    texts = page.locator(f".phone[data-to='{number}'] .inbox-item.reply").all_inner_texts()
    assert any("Muidugi" in t for t in texts) and any("aega muuta" in t for t in texts)


def test_empty_reply_is_refused_by_the_form(console: Console, console_server: Server) -> None:
    number = _number("+3725555")
    api_send(console_server, {"to": number, "messages": [{"channel": "sms", "text": "Hi"}]})
    console.sign_in()
    page = console.page
    phone = page.locator(f".phone[data-to='{number}']")
    phone.wait_for(state="visible", timeout=15_000)
    phone.get_by_role("button", name="Send reply").click()  # `required`: the browser stops it
    assert page.url == console.base + "/"
    assert phone.locator(".inbox-item.reply").count() == 0
