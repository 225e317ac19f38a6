"""WhatsApp Cloud API connector against a local stand-in of the Graph API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins.gateway import Gateway, gateway, wait_for
from tests.standins.runner import Served
from tests.standins.whatsapp import WhatsAppStandin
from tests.waiting import wait_until_async

TO = "+37251000101"


@pytest.fixture
def wa() -> Iterator[tuple[WhatsAppStandin, str]]:
    standin = WhatsAppStandin()
    with Served(standin.app()) as url:
        yield standin, url


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "connectors": {
            "wa": {
                "type": "whatsapp",
                "base_url": url,
                "phone_number_id": "1055",
                "access_token_env": "WA_TOKEN",
                "app_secret_env": "WA_APP_SECRET",
                "verify_token": "verify-me",
                "backoff_base_s": 0.2,
                **extra,
            }
        },
        "routes": {"whatsapp": "wa"},
    }


ENV = {"WA_TOKEN": "wa-token", "WA_APP_SECRET": "wa-app-secret"}
TEXT = {"channel": "whatsapp", "text": {"body": "Your code is 1234"}}


def _chan(st: list[dict[str, Any]], channel: str) -> dict[str, Any]:
    return next(s for s in st if s["channel"] == channel)


async def _sent(
    gw: Gateway, standin: WhatsAppStandin, to: str, *messages: dict[str, Any]
) -> tuple[str, str, str]:
    omni = await gw.send(to, *messages)
    digits = to.lstrip("+")
    await wait_for(lambda: digits in standin.ids)
    st = await gw.wait_status(omni, lambda s: _chan(s, "whatsapp")["status"] == "ACK")
    return omni, _chan(st, "whatsapp")["message_id"], standin.wamid_for(digits)


async def test_delivered_then_read(tmp_path: Path, wa: tuple[WhatsAppStandin, str]) -> None:
    standin, url = wa
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni, mid, wamid = await _sent(gw, standin, TO, TEXT)
        body = standin.received[-1][1]
        assert body["messaging_product"] == "whatsapp"
        assert body["to"] == TO.lstrip("+") and body["type"] == "text"
        assert body["text"] == {"body": "Your code is 1234"}
        assert body["biz_opaque_callback_data"] == mid

        r = await gw.callback("wa", *standin.status_callback(wamid, "delivered", TO[1:]))
        assert r.status_code == 200
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert st[0]["err"] == 0
        r = await gw.callback("wa", *standin.status_callback(wamid, "read", TO[1:]))
        assert r.status_code == 200
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "SEEN")
        assert st[0]["err"] == 10


async def test_template_payload(tmp_path: Path, wa: tuple[WhatsAppStandin, str]) -> None:
    standin, url = wa
    template = {
        "name": "otp",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "1234"}]}],
    }
    async with gateway(tmp_path, config(url), ENV) as gw:
        await _sent(gw, standin, TO, {"channel": "whatsapp", "template": template})
        body = standin.received[-1][1]
        assert body["type"] == "template"
        assert body["template"]["name"] == "otp"
        assert body["template"]["components"][0]["parameters"][0]["text"] == "1234"


async def test_forged_and_unsigned_callbacks_change_nothing(
    tmp_path: Path, wa: tuple[WhatsAppStandin, str]
) -> None:
    standin, url = wa
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni, mid, wamid = await _sent(gw, standin, TO, TEXT)
        body, headers = standin.status_callback(wamid, "delivered", TO[1:])
        forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
        assert (await gw.callback("wa", body, forged)).status_code == 403
        unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
        assert (await gw.callback("wa", body, unsigned)).status_code == 401
        # a genuine signature over other bytes is still forged
        tampered = body.replace(b"delivered", b"read")
        assert (await gw.callback("wa", tampered, headers)).status_code == 403
        await asyncio.sleep(0.2)
        assert (await gw.status(omni))[0]["status"] == "ACK"
        assert gw.reported(mid, "DELIVRD") == 0 and gw.reported(mid, "SEEN") == 0


async def test_replayed_callback_reports_once(
    tmp_path: Path, wa: tuple[WhatsAppStandin, str]
) -> None:
    standin, url = wa
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni, mid, wamid = await _sent(gw, standin, TO, TEXT)
        delivered = standin.status_callback(wamid, "delivered", TO[1:])
        for _ in range(3):
            assert (await gw.callback("wa", *delivered)).status_code == 200
        await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert gw.reported(mid, "DELIVRD") == 1


async def test_provider_error_falls_back_to_sms(
    tmp_path: Path, wa: tuple[WhatsAppStandin, str]
) -> None:
    standin, url = wa
    standin.behaviour[TO[1:]] = "error:131026"
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, TEXT, {"channel": "sms", "text": "Your code is 1234"})
        st = await gw.wait_status(omni, lambda s: s[1]["status"] == "DELIVRD")
        assert st[0]["status"] == "REJECTD" and st[0]["err"] == 3
        assert len(standin.received) == 1


async def test_rate_limited_retries_after_retry_after(
    tmp_path: Path, wa: tuple[WhatsAppStandin, str]
) -> None:
    standin, url = wa
    standin.behaviour[TO[1:]] = "rate_limit"
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, TEXT)
        await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        assert len(standin.received) == 2
        gap = standin.received[1][0] - standin.received[0][0]
        assert gap >= 0.9, gap  # Retry-After: 1


async def test_timeout_after_sending_is_unknown_and_never_resent(
    tmp_path: Path, wa: tuple[WhatsAppStandin, str]
) -> None:
    standin, url = wa
    standin.behaviour[TO[1:]] = "slow"
    standin.slow_s = 1.5
    async with gateway(tmp_path, config(url, timeout_s=0.3), ENV) as gw:
        omni = await gw.send(TO, TEXT)
        await wait_for(lambda: len(standin.received) == 1)
        await asyncio.sleep(2.0)
        assert len(standin.received) == 1
        view = await gw.store.messages.get(1, omni)
        assert view is not None
        assert view.channels[0].state == "unknown"


async def test_callback_after_a_timeout_is_matched_by_our_id(
    tmp_path: Path, wa: tuple[WhatsAppStandin, str]
) -> None:
    """The send timed out, so we never learnt the wamid; the status callback still carries our
    id as `biz_opaque_callback_data`: the channel is delivered and the chain stops there."""
    standin, url = wa
    standin.behaviour[TO[1:]] = "slow"
    standin.slow_s = 1.0
    sms = {"channel": "sms", "text": "Your code is 1234"}
    async with gateway(tmp_path, config(url, timeout_s=0.2), ENV) as gw:
        omni = await gw.send(TO, {**TEXT, "ttl": 30}, sms)

        async def whatsapp_state() -> str:
            view = await gw.store.messages.get(1, omni)
            assert view is not None
            return view.channels[0].state

        async def unknown() -> bool:
            return await whatsapp_state() == "unknown"

        await wait_until_async(unknown, "the WhatsApp attempt to become unknown", 10)
        await wait_for(lambda: TO[1:] in standin.ids)  # the stand-in did take it, late
        mid = (await gw.status(omni))[0]["message_id"]
        body = standin.received[0][1]
        assert body["biz_opaque_callback_data"] == mid

        delivered = standin.status_callback(
            standin.wamid_for(TO[1:]), "delivered", TO[1:], opaque=mid
        )
        r = await gw.callback("wa", *delivered)
        assert r.status_code == 200, r.text
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert st[0]["err"] == 0
        assert st[1]["status"] is None  # SMS never sent
        # Nothing is left to fire: no deadline that could expire WhatsApp and try SMS.
        assert await gw.store.timers.next_due_us() is None
        assert len(standin.received) == 1
        assert await gw.store.sandbox.page(1, None) == []


async def test_verification_handshake(tmp_path: Path, wa: tuple[WhatsAppStandin, str]) -> None:
    _, url = wa
    async with gateway(tmp_path, config(url), ENV) as gw:
        ok = await gw.client.get(
            "/providers/wa/webhook",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": "verify-me",
                "hub.challenge": "42",
            },
        )
        assert ok.status_code == 200 and ok.text == "42"
        bad = await gw.client.get(
            "/providers/wa/webhook",
            params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"},
        )
        assert bad.status_code == 403
        assert (await gw.client.get("/providers/nosuch/webhook")).status_code == 404
