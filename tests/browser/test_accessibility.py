"""axe-core (from npm, tests/browser/package.json) run in every console page, at desktop and at
phone width, with the page in each of its states (empty, filled, with errors, with notices).
Any violation of impact serious or critical fails, listed with the elements it was found on.

axe is injected with `page.add_script_tag`, an inline script, which the console's CSP
(`script-src 'self'`) rightly refuses: these contexts bypass the CSP, and nothing else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import _unavailable
from tests.e2e.server import Server

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True}

RUN_AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ' | ' + (n.failureSummary || '').replace(/\\s+/g, ' ')),
  }));
}"""


@pytest.fixture(scope="module")
def axe_js() -> Path:
    """axe.min.js from the pinned npm package; `npm ci` here when it is missing."""
    npm = shutil.which("npm")
    if not AXE_JS.exists() and npm is not None:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=300,
        )
    if not AXE_JS.exists():
        _unavailable("axe-core is not installed (`npm ci --prefix tests/browser` needs npm)")
    return AXE_JS


def serious_violations(page: Any, axe: Path) -> list[str]:
    page.add_script_tag(path=str(axe))
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}\n      " + "\n      ".join(v["nodes"])
        for v in found
        if v["impact"] in FAILING_IMPACTS
    ]


def api_send(server: Server, body: dict[str, Any]) -> str:
    r = httpx.post(f"{server.url}/v1/omnimessage", json=body, auth=server.auth, timeout=10)
    assert r.status_code == 201, r.text
    return str(r.json()["omnimessage_id"])


def _in_an_hour() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600))


EVERY_CHANNEL: list[dict[str, Any]] = [
    {"channel": "sms", "text": "Your parcel {ABC-123} arrives today between 10:00 and 12:00."},
    {"channel": "whatsapp", "template": {"name": "order_ready", "language": {"code": "en"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "Alice"}]}]}},
    {"channel": "whatsapp", "image": {"link": "https://example.com/menu.png", "caption": "Today's menu"}},
    {"channel": "rcs", "sender": "my-agent", "rich_card": {"carousel_card": {"card_width": "MEDIUM", "card_contents": [
        {"title": "Margherita", "description": "Tomato, basil", "media": {"height": "MEDIUM", "content_info": {"file_url": "https://example.com/m.png", "force_refresh": False}}, "suggestions": [{"reply": {"text": "Order", "postback_data": "m"}}]},
        {"title": "Diavola", "description": "Spicy salami", "media": {"height": "MEDIUM", "content_info": {"file_url": "https://example.com/d.png", "force_refresh": False}}},
    ]}}, "suggestions": [{"reply": {"text": "Menu", "postback_data": "menu"}}, {"action": {"text": "Call us", "postback_data": "call", "dial_action": {"phone_number": "+3725550000"}}}]},
    {"channel": "viber", "text": "Spring sale: 20% off", "image_url": "https://example.com/sale.png", "button_text": "Shop now", "button_url": "https://example.com/shop"},
    {"channel": "viber", "text": "Track it", "button_text": "Track", "button_url": "https://example.com/t"},
    {"channel": "telegram", "text": "Your ticket", "document_url": "https://example.com/ticket.pdf"},
]  # fmt: skip


@pytest.fixture(scope="module")
def seeded(console_server: Server) -> dict[str, str]:
    """Messages in every state the pages show: delivered on each channel, fallen back,
    scheduled, cancelled."""
    number = "+3725557001"
    for body in EVERY_CHANNEL:
        api_send(console_server, {"to": number, "messages": [body]})
    api_send(  # shown as "content not stored"
        console_server,
        {"to": number, "text_store": "nostore", "messages": [{"channel": "sms", "text": "pin"}]},
    )
    fell_back = api_send(
        console_server,
        {
            "to": "+447700900200",  # sandbox: WhatsApp undelivered, then the SMS delivers
            "messages": [
                {"channel": "whatsapp", "text": {"body": "Your code is 4411"}},
                {"channel": "sms", "text": "Your code is 4411"},
            ],
        },
    )
    scheduled = api_send(
        console_server,
        {
            "to": "+3725557002",
            "time_to_send": _in_an_hour(),
            "messages": [{"channel": "viber", "text": "Dinner?"}, {"channel": "sms", "text": "x"}],
        },
    )
    cancelled = api_send(
        console_server,
        {
            "to": "+3725557003",
            "time_to_send": _in_an_hour(),
            "messages": [{"channel": "telegram", "text": "Lighthouse tour"}],
        },
    )
    r = httpx.delete(
        f"{console_server.url}/v1/omnimessage/{cancelled}", auth=console_server.auth, timeout=10
    )
    assert r.status_code == 202
    for _ in range(2):  # a batch for the Batches page
        api_send(
            console_server,
            {
                "to": "+3725557004",
                "batch": "spring-sale",
                "time_to_send": _in_an_hour(),
                "messages": [{"channel": "sms", "text": "Spring sale"}],
            },
        )
    deadline = time.monotonic() + 15
    while True:  # wait until the inbox holds everything and the fallback has run its course
        st = httpx.get(
            f"{console_server.url}/v1/omnimessage/{fell_back}/status",
            auth=console_server.auth,
            timeout=10,
        ).json()["statuses"]
        inbox = httpx.get(
            f"{console_server.url}/v1/sandbox/messages",
            params={"to": number},
            auth=console_server.auth,
            timeout=10,
        ).json()
        if st[1]["status"] == "DELIVRD" and len(inbox["messages"]) > len(EVERY_CHANNEL):
            break
        assert time.monotonic() < deadline, (st, inbox)
        time.sleep(0.2)
    return {"fell_back": fell_back, "scheduled": scheduled, "cancelled": cancelled}


@pytest.fixture(scope="module", params=["desktop", "phone"])
def signed_in(
    browser: Any, console_server: Server, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A page signed in as alice, at desktop or phone width."""
    size = PHONE if request.param == "phone" else {}
    context = browser.new_context(bypass_csp=True, **size)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(console_server.url + "/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-secret-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(console_server.url + "/")
    try:
        yield page
    finally:
        context.close()


# Each: a name, and what brings the signed-in page into that state (base URL, seeded ids).
Visit = Callable[[Any, str, dict[str, str]], None]


def _go(path: str) -> Visit:
    return lambda page, base, ids: page.goto(base + path.format(**ids))


def _compose_errors(page: Any, base: str, ids: dict[str, str]) -> None:
    page.goto(base + "/compose")
    page.get_by_label("Recipient (E.164 number)").fill("12ab")
    page.get_by_label("Channel 1", exact=True).select_option("rcs")
    page.get_by_label("Text 1", exact=True).fill("hi")
    page.get_by_role("button", name="Send message").click()
    page.locator("#to-err").wait_for()


def _search_results(page: Any, base: str, ids: dict[str, str]) -> None:
    page.goto(base + "/search")
    page.get_by_label("Number, id or text").fill("lighthouse")
    page.get_by_role("button", name="Search").click()
    page.locator(".result").first.wait_for()


def _form_refused(page: Any, base: str, ids: dict[str, str]) -> None:
    page.goto(base + "/compose")
    with page.expect_navigation():
        page.evaluate(
            """() => { const f = document.querySelector('form.compose');
            f.querySelector('input[name=csrf]').remove(); f.submit(); }"""
        )
    page.get_by_role("heading", name="Form refused").wait_for()


def _cancel_404(page: Any, base: str, ids: dict[str, str]) -> None:
    page.goto(base + "/scheduled")
    with page.expect_navigation():
        page.evaluate(
            """(id) => { const f = document.querySelector('form.sched-cancel');
            f.action = '/scheduled/' + id + '/cancel'; f.submit(); }""",
            str(uuid.uuid4()),
        )
    page.locator(".alert-bad").wait_for()


SIGNED_IN_PAGES: dict[str, Visit] = {
    "inbox": _go("/"),
    "scheduled": _go("/scheduled"),
    "scheduled-filtered-bad": _go("/scheduled?to=12ab&from=x"),
    "scheduled-empty": _go("/scheduled?channel=rcs"),
    "scheduled-cancelled-notice": _go("/scheduled?cancelled={cancelled}"),
    "scheduled-cancel-404": _cancel_404,
    "message-fell-back": _go("/messages/{fell_back}"),
    "message-scheduled-just-sent": _go("/messages/{scheduled}?sent=1"),
    "message-cancelled": _go("/messages/{cancelled}"),
    "message-not-found": _go(f"/messages/{uuid.UUID(int=7)}"),
    "compose": _go("/compose"),
    "compose-errors": _compose_errors,
    "search": _go("/search"),
    "search-results": _search_results,
    "search-nothing": _go("/search?q=no-such-thing-anywhere"),
    "form-refused": _form_refused,
    "batches": _go("/batches"),
    "batches-one": _go("/batches?tag=spring-sale"),
    "batches-none": _go("/batches?tag=no-such-batch"),
    "batches-bad-tag": _go("/batches?tag=not%20a%20tag"),
    "batches-done-notice": _go("/batches?done=pause&n=2&batch=spring-sale"),
}


@pytest.mark.parametrize("name", list(SIGNED_IN_PAGES))
def test_signed_in_pages(
    name: str, signed_in: Any, console_server: Server, seeded: dict[str, str], axe_js: Path
) -> None:
    SIGNED_IN_PAGES[name](signed_in, console_server.url, seeded)
    problems = serious_violations(signed_in, axe_js)
    assert not problems, f"{name} at {signed_in.url}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_sign_in_pages(browser: Any, console_server: Server, axe_js: Path, size: str) -> None:
    context = browser.new_context(bypass_csp=True, **(PHONE if size == "phone" else {}))
    try:
        page = context.new_page()
        page.goto(console_server.url + "/login")
        problems = serious_violations(page, axe_js)
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        page.locator("[role=alert]").wait_for()
        assert re.search("Wrong username or password", page.content())
        problems += serious_violations(page, axe_js)
    finally:
        context.close()
    assert not problems, "sign-in page:\n  " + "\n  ".join(problems)
