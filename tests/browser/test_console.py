"""The web console in a real Chromium: sign in, compose, schedule, watch, cancel, timeline."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Console
from tests.e2e.server import Server

pytestmark = pytest.mark.browser


def api_send(server: Server, body: dict[str, Any], auth: tuple[str, str] | None = None) -> str:
    r = httpx.post(f"{server.url}/v1/omnimessage", json=body, auth=auth or server.auth, timeout=10)
    assert r.status_code == 201, r.text
    return str(r.json()["omnimessage_id"])


def in_an_hour() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600))


def test_sign_in_page(console: Console) -> None:
    r = console.go("/")
    assert console.page.url.startswith(console.base + "/login")
    assert r is not None
    assert console.page.locator("html").get_attribute("lang") == "en"
    console.shot("01-login")
    console.page.get_by_label("Username").fill("alice")
    console.page.get_by_label("Password").fill("wrong-password")
    console.expected_status.add(401)
    console.page.get_by_role("button", name="Sign in").click()
    assert "Wrong username or password" in console.page.locator("[role=alert]").inner_text()
    console.sign_in()
    assert console.page.locator(".who").inner_text() == "alice"
    cookie = next(c for c in console.page.context.cookies() if c["name"] == "tidings_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_compose_scheduled_countdown_then_live_inbox(console: Console) -> None:
    console.sign_in()
    inbox = console.page  # stays on the inbox, live, never reloaded
    inbox.evaluate("window.__notReloaded = true")
    tab = console.new_tab()
    tab.goto(console.base + "/compose")
    console.page = tab
    console.shot("02-compose")
    number = "+3725551" + str(uuid.uuid4().int % 1000).zfill(3)
    # Two seconds ahead, in the browser's own time zone, as a person would type it.
    local = tab.evaluate(
        """() => { const d = new Date(Date.now() + 2600); const p = n => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth()+1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`; }"""
    )
    tab.get_by_label("Recipient (E.164 number)").fill(number)
    tab.get_by_label("Channel 1", exact=True).select_option("sms")
    tab.get_by_label("Text 1", exact=True).fill("Your table is ready — see you soon!")
    tab.get_by_label(re.compile("^Send at")).fill(local)
    assert "UTC" in tab.locator("#tts-utc").inner_text()
    tab.get_by_role("button", name="Send message").click()
    tab.wait_for_url(re.compile(r"/messages/[0-9a-f-]{36}\?sent=1$"))
    omni_id = tab.url.split("/messages/")[1].split("?")[0]
    assert tab.locator("#omni-state").inner_text() == "scheduled"

    tab.goto(console.base + "/scheduled")
    row = tab.locator(f"#s-{omni_id}")
    countdown = row.locator(".countdown")
    assert re.fullmatch(r"in 00:0[0-3]", countdown.inner_text()), countdown.inner_text()
    console.shot("03-scheduled-countdown")

    console.page = inbox
    item = inbox.locator(f".phone[data-to='{number}'] .inbox-item").first
    item.wait_for(state="visible", timeout=15_000)
    assert inbox.evaluate("window.__notReloaded") is True
    assert "Your table is ready" in item.inner_text()
    # autoconvert (on by default) sends the dash as "-": GSM-7, one part.
    assert "GSM-7 · 1 segment" in item.inner_text()
    console.shot("04-inbox-live")


def test_cancel_scheduled_message(console: Console, console_server: Server) -> None:
    keep = api_send(
        console_server,
        {"to": "+3725552001", "time_to_send": in_an_hour(), "messages": [{"channel": "sms", "text": "keep"}]},
    )  # fmt: skip
    drop = api_send(
        console_server,
        {
            "to": "+3725552002",
            "time_to_send": in_an_hour(),
            "messages": [
                {"channel": "viber", "text": "Dinner at 8?"},
                {"channel": "sms", "text": "Dinner at 8?"},
            ],
        },
    )
    console.sign_in()
    console.go("/scheduled")
    assert console.page.locator(f"#s-{drop}").is_visible()
    console.page.locator(f"#s-{drop}").get_by_role("button", name=re.compile("^Cancel")).click()
    console.page.wait_for_url(re.compile(r"/scheduled\?cancelled="))
    assert "DELETED" in console.page.locator(".alert-ok").inner_text()
    assert console.page.locator(f"#s-{drop}").count() == 0
    assert console.page.locator(f"#s-{keep}").is_visible()
    console.shot("05-scheduled-after-cancel")

    console.go(f"/messages/{drop}")
    statuses = console.page.locator(".channel-status .status").all_inner_texts()
    assert statuses == ["DELETED", "DELETED"]
    assert console.page.locator("#omni-state").inner_text() == "cancelled"
    assert "cancelled — status DELETED" in console.page.locator("#timeline").inner_text()
    console.shot("06-message-cancelled")

    # The API's 404 case: nothing to cancel (already cancelled and then gone, or unknown).
    console.go("/scheduled")
    console.expected_status.add(404)
    with console.page.expect_navigation():
        console.page.evaluate(
            """(id) => { const f = document.querySelector('form.sched-cancel');
        f.action = '/scheduled/' + id + '/cancel'; f.submit(); }""",
            str(uuid.uuid4()),
        )
    assert "Not found (404)" in console.page.locator(".alert-bad").inner_text()
    console.shot("07-cancel-404")


def test_filters_and_search(console: Console, console_server: Server) -> None:
    a = api_send(
        console_server,
        {"to": "+3725553001", "time_to_send": in_an_hour(), "messages": [{"channel": "telegram", "text": "tg"}, {"channel": "sms", "text": "Lighthouse tour"}]},
    )  # fmt: skip
    b = api_send(
        console_server,
        {"to": "+3725553002", "time_to_send": in_an_hour(), "messages": [{"channel": "sms", "text": "other"}]},
    )  # fmt: skip
    console.sign_in()
    console.go("/scheduled?channel=telegram")
    assert console.page.locator(f"#s-{a}").count() == 1
    assert console.page.locator(f"#s-{b}").count() == 0
    console.go("/scheduled?to=%2B3725553002")
    assert console.page.locator(f"#s-{b}").count() == 1
    assert console.page.locator(f"#s-{a}").count() == 0

    console.go("/search")
    console.page.get_by_label("Number, id or text").fill("lighthouse")
    console.page.get_by_role("button", name="Search").click()
    assert console.page.locator(f"a[href='/messages/{a}']").count() == 1
    console.shot("08-search")
    console.go(f"/search?q={b}")
    assert console.page.locator(f"a[href='/messages/{b}']").count() == 1


def test_message_page_timeline(console: Console, console_server: Server) -> None:
    omni = api_send(
        console_server,
        {
            "to": "+447700900200",  # sandbox script: WhatsApp undelivered, then SMS delivers
            "messages": [
                {"channel": "whatsapp", "text": {"body": "Your code is 4411"}},
                {"channel": "sms", "text": "Your code is 4411"},
            ],
        },
    )
    console.sign_in()
    deadline = time.monotonic() + 10
    while True:
        console.go(f"/messages/{omni}")
        text = console.page.locator("#timeline").inner_text()
        if "SMS (#2): status DELIVRD" in text or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for expected in (
        "Accepted",
        "WhatsApp (#1): claimed and handed to the channel",
        "WhatsApp (#1): status UNDELIV",
        "SMS (#2): claimed and handed to the channel",
        "SMS (#2): status DELIVRD",
    ):
        assert expected in text, text
    assert console.page.locator(".timeline li").count() >= 4
    console.shot("09-message-timeline")


def test_bad_form_input_shows_field_error(console: Console) -> None:
    console.sign_in()
    console.go("/compose")
    console.expected_status.add(400)
    console.page.get_by_label("Recipient (E.164 number)").fill("12ab")
    console.page.get_by_label("Channel 1", exact=True).select_option("rcs")
    console.page.get_by_label("Text 1", exact=True).fill("hi")
    console.page.get_by_role("button", name="Send message").click()
    to_error = console.page.locator("#to-err")
    assert to_error.is_visible()
    assert (
        console.page.get_by_label("Recipient (E.164 number)").get_attribute("aria-invalid")
        == "true"
    )
    assert console.page.locator("#ch0_sender-err").is_visible()  # RCS needs a sender
    assert console.page.get_by_label("Text 1", exact=True).input_value() == "hi"  # kept
    console.shot("10-compose-errors")


def test_other_accounts_message_is_not_found(console: Console, console_server: Server) -> None:
    bobs = api_send(
        console_server,
        {"to": "+3725554001", "messages": [{"channel": "sms", "text": "bob's secret"}]},
        auth=("bob", "bob-secret-pw"),
    )
    console.sign_in()
    console.expected_status.add(404)
    response = console.go(f"/messages/{bobs}")
    assert response.status == 404
    assert console.page.get_by_role("heading", name="Not found").is_visible()
    assert "bob's secret" not in console.page.content()
    console.shot("11-not-found")
    assert console.go("/messages/not-a-uuid").status == 404
    console.go(f"/search?q={bobs}")
    assert console.page.locator(f"a[href='/messages/{bobs}']").count() == 0


def test_form_without_csrf_token_is_refused(console: Console) -> None:
    console.sign_in()
    console.go("/compose")
    console.expected_status.add(403)
    with console.page.expect_navigation():
        console.page.evaluate(
            """() => { const f = document.querySelector('form.compose');
        f.querySelector('input[name=csrf]').remove();
        f.querySelector('#to').value = '+3725555001';
        f.querySelector('#ch0_text').value = 'forged';
        f.submit(); }"""
        )
    assert console.page.get_by_role("heading", name="Form refused").is_visible()
    console.shot("12-csrf-refused")
    r = console.page.request.post(
        console.base + "/compose",
        form={"to": "+3725555001", "ch0_channel": "sms", "ch0_text": "forged", "csrf": "nope"},
        max_redirects=0,
    )
    assert r.status == 403
    console.go("/search?q=forged")
    assert console.page.locator(".result").count() == 0


def test_sign_out(console: Console) -> None:
    console.sign_in()
    console.page.get_by_role("button", name="Sign out").click()
    console.page.wait_for_url(re.compile("/login$"))
    console.go("/scheduled")
    assert "/login" in console.page.url


def test_rich_channels_at_phone_width(phone: Console, console_server: Server) -> None:
    number = "+3725556001"
    bodies: list[dict[str, Any]] = [
        {"channel": "sms", "text": "Hi! Your parcel {ABC-123} arrives today between 10:00 and 12:00. Reply STOP to opt out."},
        {"channel": "whatsapp", "template": {"name": "order_ready", "language": {"code": "en"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "Alice"}, {"type": "text", "text": "#1042"}]}]}},
        {"channel": "whatsapp", "image": {"link": "https://example.com/menu.png", "caption": "Today's menu"}},
        {"channel": "rcs", "sender": "Bistro", "rich_card": {"carousel_card": {"card_width": "MEDIUM", "card_contents": [
            {"title": "Margherita", "description": "Tomato, mozzarella, basil", "media": {"height": "MEDIUM", "content_info": {"file_url": "https://example.com/m.png", "force_refresh": False}}, "suggestions": [{"reply": {"text": "Order", "postback_data": "m"}}]},
            {"title": "Diavola", "description": "Spicy salami", "media": {"height": "MEDIUM", "content_info": {"file_url": "https://example.com/d.png", "force_refresh": False}}, "suggestions": [{"reply": {"text": "Order", "postback_data": "d"}}]},
        ]}}, "suggestions": [{"reply": {"text": "Menu", "postback_data": "menu"}}, {"action": {"text": "Call us", "postback_data": "call", "dial_action": {"phone_number": "+3725550000"}}}]},
        {"channel": "viber", "text": "Spring sale: 20% off", "image_url": "https://example.com/sale.png", "button_text": "Shop now", "button_url": "https://example.com/shop"},
        {"channel": "telegram", "text": "Your ticket", "document_url": "https://example.com/ticket.pdf"},
    ]  # fmt: skip
    for ch in bodies:
        api_send(console_server, {"to": number, "messages": [ch]})
    phone.sign_in()
    page = phone.page
    page.locator(f".phone[data-to='{number}'] .inbox-item").nth(len(bodies) - 1).wait_for(
        timeout=15_000
    )
    phone.go("/")
    section = page.locator(f".phone[data-to='{number}']")
    assert section.locator(".inbox-item").count() == len(bodies)
    text = section.inner_text()
    for expected in ("GSM-7 · 1 segment", "order_ready", "Alice", "Today's menu", "Margherita", "Call us", "Shop now", "Your ticket"):  # fmt: skip
        assert expected in text, expected
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    section.screenshot(path=str(phone.shot("13-inbox-phone").with_name("13b-conversation.png")))
    for path, name in [("/scheduled", "14-scheduled-phone"), ("/compose", "15-compose-phone")]:
        phone.go(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        phone.shot(name)


def test_keyboard_and_labels(console: Console) -> None:
    console.sign_in()
    for path in ("/", "/scheduled", "/compose", "/search"):
        console.go(path)
        unlabelled = console.page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
    console.go("/compose")
    console.page.keyboard.press("Tab")
    assert console.page.evaluate("document.activeElement.textContent") == "Skip to content"
    console.page.keyboard.press("Tab")
    assert console.page.evaluate("document.activeElement.textContent.trim()").endswith("Tidings")
    console.page.keyboard.press("Tab")
    assert console.page.evaluate("document.activeElement.textContent") == "Inbox"
    outline = console.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # a visible focus ring


def test_batches_page_pause_resume_cancel(console: Console, console_server: Server) -> None:
    tag = f"b-{uuid.uuid4().hex[:8]}"
    ids = [
        api_send(
            console_server,
            {
                "to": "+3725552101",
                "batch": tag,
                "time_to_send": in_an_hour(),
                "messages": [{"channel": "sms", "text": f"batch {i}"}],
            },
        )
        for i in range(3)
    ]
    console.sign_in()
    console.go(f"/batches?tag={tag}")
    row = console.page.get_by_role("row", name=re.compile(tag))
    cells = row.get_by_role("cell").all_inner_texts()
    assert cells[:1] == ["3"]  # scheduled
    row.get_by_role("button", name=re.compile("^Pause")).click()
    console.page.wait_for_url(re.compile(r"/batches\?done=pause"))
    assert f"Paused 3 scheduled messages of {tag}" in console.page.locator(".alert-ok").inner_text()
    console.go(f"/batches?tag={tag}")
    cells = (
        console.page.get_by_role("row", name=re.compile(tag)).get_by_role("cell").all_inner_texts()
    )
    assert cells[:2] == ["0", "3"]  # scheduled, paused
    console.shot("20-batches-paused")

    row = console.page.get_by_role("row", name=re.compile(tag))
    row.get_by_role("button", name=re.compile("^Resume batch")).click()
    console.page.wait_for_url(re.compile(r"/batches\?done=resume"))
    console.go(f"/batches?tag={tag}")
    row = console.page.get_by_role("row", name=re.compile(tag))
    row.get_by_role("button", name=re.compile("^Cancel")).click()
    console.page.wait_for_url(re.compile(r"/batches\?done=cancel"))
    assert (
        f"Cancelled 3 waiting messages of {tag}" in console.page.locator(".alert-ok").inner_text()
    )
    st = httpx.get(
        f"{console_server.url}/v1/omnimessage/{ids[0]}/status", auth=console_server.auth, timeout=10
    ).json()
    assert [s["status"] for s in st["statuses"]] == ["DELETED"]

    # The timeline shows the pause and the resume.
    console.go(f"/messages/{ids[0]}")
    timeline = console.page.locator("#timeline").inner_text()
    assert "Paused" in timeline and "Resumed" in timeline
