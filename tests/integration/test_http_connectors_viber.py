"""Viber connector (Infobip Viber Business Messages) against a local stand-in of Infobip's API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.standins.gateway import Gateway, gateway, wait_for
from tests.standins.runner import Served
from tests.standins.viber import InfobipViberStandin
from tidings.channels.viber import ViberConnector, ViberSettings
from tidings.config import ConfigError, parse_config
from tidings.core.dispatch import SendJob

TO = "+37251000301"
WEBHOOK = "https://gw.example.test/providers/vb/webhook"
SECRET = "vb-hook-secret"
ENV = {"IB_KEY": "ib-api-key", "VB_HOOK": SECRET}
TEXT = {"channel": "viber", "text": "Your code is 1234"}


@pytest.fixture
def ib() -> Iterator[tuple[InfobipViberStandin, str]]:
    standin = InfobipViberStandin()
    with Served(standin.app()) as url:
        yield standin, url


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "connectors": {
            "vb": {
                "type": "viber",
                "base_url": url,
                "api_key_env": "IB_KEY",
                "webhook_secret_env": "VB_HOOK",
                "webhook_url": WEBHOOK,
                "sender": "AliceShop",
                "backoff_base_s": 0.2,
                **extra,
            }
        },
        "routes": {"viber": "vb"},
    }


async def _post(
    gw: Gateway, target: str, body: bytes, headers: Mapping[str, str]
) -> httpx.Response:
    r = await gw.client.post(
        target,
        content=body,
        headers=dict(headers),
        auth=None,  # type: ignore[arg-type]  # Infobip sends no credentials
    )
    await gw.engine.reports.drain()
    return r


async def _sent(
    gw: Gateway, standin: InfobipViberStandin, *messages: dict[str, Any]
) -> tuple[str, str]:
    omni = await gw.send(TO, *messages)
    await wait_for(lambda: len(standin.messages) >= 1)
    st = await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
    return omni, str(st[0]["message_id"])


# -- sending ---------------------------------------------------------------------------------


async def test_text_is_sent_with_our_id_validity_and_webhooks(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    async with gateway(tmp_path, config(url), ENV) as gw:
        _, mid = await _sent(gw, standin, {**TEXT, "ttl": 120})
        m = standin.last()
        assert m["sender"] == "AliceShop"
        assert m["destinations"] == [{"to": TO[1:], "messageId": mid}]
        assert m["content"] == {"type": "TEXT", "text": "Your code is 1234"}
        assert m["options"]["validityPeriod"] == {"amount": 120, "timeUnit": "SECONDS"}
        hook = f"{WEBHOOK}?token={SECRET}"
        assert m["webhooks"]["delivery"] == {"url": hook}
        assert m["webhooks"]["seen"] == {"url": hook}


async def test_image_and_buttons(tmp_path: Path, ib: tuple[InfobipViberStandin, str]) -> None:
    standin, url = ib
    image = "https://cdn.example.com/a.png"
    link = "https://shop.example.com/o/1"
    async with gateway(tmp_path, config(url), ENV) as gw:
        await _sent(gw, standin, {"channel": "viber", "image_url": image})
        assert standin.last()["content"] == {"type": "IMAGE", "mediaUrl": image}

        standin.messages.clear()
        await _sent(
            gw,
            standin,
            {"channel": "viber", "text": "Order", "button_text": "Open", "button_url": link},
        )
        assert standin.last()["content"] == {
            "type": "TEXT",
            "text": "Order",
            "button": {"title": "Open", "action": link},
        }

        standin.messages.clear()
        await _sent(
            gw,
            standin,
            {
                "channel": "viber",
                "text": "Order",
                "image_url": image,
                "button_text": "Open",
                "button_url": link,
            },
        )
        assert standin.last()["content"] == {
            "type": "IMAGE",
            "mediaUrl": image,
            "text": "Order",
            "button": {"title": "Open", "action": link},
        }


async def test_video(tmp_path: Path, ib: tuple[InfobipViberStandin, str]) -> None:
    standin, url = ib
    video = {
        "url": "https://cdn.example.com/v.mp4",
        "thumbnail": "https://cdn.example.com/v.jpg",
        "file_size": 1_000_000,
        "duration": 42,
    }
    async with gateway(tmp_path, config(url), ENV) as gw:
        await _sent(
            gw, standin, {"channel": "viber", "video": video, "text": "Look", "button_text": "Play"}
        )
        assert standin.last()["content"] == {
            "type": "VIDEO",
            "mediaUrl": video["url"],
            "thumbnailUrl": video["thumbnail"],
            "mediaDuration": 42,
            "text": "Look",
            "buttonTitle": "Play",
        }


async def test_template_is_rejected_without_a_request_and_falls_back(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    template = {"channel": "viber", "template": {"id": "otp1", "lang": "en", "params": {"c": "1"}}}
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, template, {"channel": "sms", "text": "Your code is 1"})
        st = await gw.wait_status(omni, lambda s: s[1]["status"] == "DELIVRD")
        assert st[0]["status"] in ("FAILED", "REJECTD") and st[0]["err"] == 1
        assert "template" in (st[0]["error"] or "")
        assert standin.received == []


async def test_invalid_destination_is_rejected_err_3(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    standin.behaviour[TO[1:]] = "invalid"
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, TEXT, {"channel": "sms", "text": "Your code is 1234"})
        st = await gw.wait_status(omni, lambda s: s[1]["status"] == "DELIVRD")
        assert st[0]["status"] == "REJECTD" and st[0]["err"] == 3
        assert len(standin.received) == 1


async def test_rejected_status_in_the_send_answer(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    standin.behaviour[TO[1:]] = "rejected"
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, TEXT)
        st = await gw.wait_status(omni, lambda s: s[0]["status"] not in (None, "ACK"))
        assert st[0]["status"] == "REJECTD" and st[0]["err"] == 3


async def test_rate_limited_retries_after_retry_after(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    standin.behaviour[TO[1:]] = "rate_limit"
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, TEXT)
        await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        assert len(standin.received) == 2
        gap = standin.received[1][0] - standin.received[0][0]
        assert gap >= 0.9, gap  # Retry-After: 1
        first, second = (b["messages"][0]["destinations"][0] for _, b in standin.received)
        assert first["messageId"] == second["messageId"]  # same id on the retry


async def test_timeout_after_sending_is_unknown_and_never_resent(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
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


# -- reports ---------------------------------------------------------------------------------


async def test_delivered_then_seen(tmp_path: Path, ib: tuple[InfobipViberStandin, str]) -> None:
    standin, url = ib
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni, mid = await _sent(gw, standin, TEXT)
        target = standin.callback_target(mid)
        r = await _post(gw, target, *standin.delivery_report(mid, "DELIVERED"))
        assert r.status_code == 200, r.text
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert st[0]["err"] == 0
        r = await _post(gw, standin.callback_target(mid, "seen"), *standin.seen_report(mid))
        assert r.status_code == 200, r.text
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "SEEN")
        assert st[0]["err"] == 10


async def test_undeliverable_and_expired_reports(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni, mid = await _sent(gw, standin, TEXT, {"channel": "sms", "text": "fallback"})
        unknown = {
            "groupId": 1,
            "groupName": "HANDSET_ERRORS",
            "id": 27,
            "name": "EC_UNKNOWN_SUBSCRIBER",
            "description": "Unknown Subscriber",
            "permanent": True,
        }
        body, headers = standin.delivery_report(mid, "UNDELIVERABLE", unknown)
        assert (await _post(gw, standin.callback_target(mid), body, headers)).status_code == 200
        st = await gw.wait_status(omni, lambda s: s[1]["status"] == "DELIVRD")
        assert st[0]["status"] == "UNDELIV" and st[0]["err"] == 3

    async with gateway(tmp_path / "b", config(url), ENV) as gw:
        standin.messages.clear()
        omni, mid = await _sent(gw, standin, TEXT)
        body, headers = standin.delivery_report(mid, "EXPIRED")
        assert (await _post(gw, standin.callback_target(mid), body, headers)).status_code == 200
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "EXPIRED")
        assert st[0]["err"] == 2


async def test_forged_and_tokenless_callbacks_change_nothing(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni, mid = await _sent(gw, standin, TEXT)
        body, headers = standin.delivery_report(mid, "DELIVERED")
        forged = "/providers/vb/webhook?token=not-the-secret"
        assert (await _post(gw, forged, body, headers)).status_code == 403
        assert (await _post(gw, "/providers/vb/webhook", body, headers)).status_code == 401
        # the secret in a header instead of the URL is not accepted either
        with_header = {**headers, "X-Token": SECRET}
        assert (await _post(gw, "/providers/vb/webhook", body, with_header)).status_code == 401
        await asyncio.sleep(0.2)
        assert (await gw.status(omni))[0]["status"] == "ACK"
        assert gw.reported(mid, "DELIVRD") == 0


async def test_replayed_callback_reports_once(
    tmp_path: Path, ib: tuple[InfobipViberStandin, str]
) -> None:
    standin, url = ib
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni, mid = await _sent(gw, standin, TEXT)
        delivered = standin.delivery_report(mid, "DELIVERED")
        for _ in range(3):
            r = await _post(gw, standin.callback_target(mid), *delivered)
            assert r.status_code == 200
        await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert gw.reported(mid, "DELIVRD") == 1


async def test_malformed_report_is_400(tmp_path: Path, ib: tuple[InfobipViberStandin, str]) -> None:
    _, url = ib
    async with gateway(tmp_path, config(url), ENV) as gw:
        target = f"/providers/vb/webhook?token={SECRET}"
        r = await _post(gw, target, b"not json", {"Content-Type": "application/json"})
        assert r.status_code == 400


# -- configuration ---------------------------------------------------------------------------


def _vb(**body: Any) -> dict[str, Any]:
    return {"connectors": {"vb": {"type": "viber", **body}}, "routes": {"viber": "vb"}}


def test_config_reads_viber_settings() -> None:
    cfg = parse_config(
        _vb(
            api_key_env="IB_KEY",
            webhook_secret_env="VB_HOOK",
            sender="AliceShop",
            webhook_url=WEBHOOK,
            seen_reports=False,
            base_url="https://xyz.api.infobip.com",
        ),
        ENV,
    )
    spec = cfg.connectors["vb"]
    assert spec.type == "viber" and cfg.routes["viber"] == "vb"
    s: ViberSettings = spec.settings
    assert s.api_key == "ib-api-key" and s.webhook_secret == SECRET
    assert s.sender == "AliceShop" and s.webhook_url == WEBHOOK and s.seen_reports is False
    assert s.http.base_url == "https://xyz.api.infobip.com"


def test_config_defaults() -> None:
    s: ViberSettings = parse_config(_vb(api_key="k", webhook_secret="w")).connectors["vb"].settings
    assert s.http.base_url == "https://api.infobip.com"
    assert s.sender is None and s.webhook_url is None and s.seen_reports is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"webhook_secret": "w"}, "connectors.vb.api_key: required"),
        ({"api_key": "k"}, "connectors.vb.webhook_secret: required"),
        ({"api_key_env": "NOPE", "webhook_secret": "w"}, "NOPE is not set"),
        ({"api_key": "k", "webhook_secret": "w", "webhook_url": "ftp://x"}, "webhook_url"),
        ({"api_key": "k", "webhook_secret": "w", "seen_reports": "yes"}, "seen_reports"),
        ({"api_key": "k", "webhook_secret": "w", "service_id": "x"}, "unknown setting"),
    ],
)
def test_config_errors_name_the_key(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_vb(**body), {})


def test_connector_without_webhook_url_sends_no_webhooks() -> None:
    settings = ViberSettings(api_key="k", webhook_secret="w", sender=None)
    conn = ViberConnector("vb", settings, lambda: 0)
    job = SendJob(1, 1, 0, "o", 1, "+3725", "m1", 0, "viber", "Shop", 10**9, '{"text":"hi"}')
    body = conn.payload(job)["messages"][0]
    assert "webhooks" not in body
    assert body["sender"] == "Shop"  # the message's own sender when none is configured
    assert body["options"]["validityPeriod"]["amount"] == 48 * 3600  # Infobip's cap
