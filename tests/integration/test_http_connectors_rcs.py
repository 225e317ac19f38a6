"""RCS Business Messaging connector against a local stand-in (OAuth2 service account included)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins.gateway import gateway
from tests.standins.rcs import RcsStandin
from tests.standins.runner import Served

TO = "+37251000501"


@pytest.fixture
def rbm() -> Iterator[RcsStandin]:
    standin = RcsStandin()
    with Served(standin.app()) as url:
        standin.base_url = url
        yield standin


def config(standin: RcsStandin) -> dict[str, Any]:
    return {
        "connectors": {
            "rbm": {
                "type": "rcs",
                "base_url": standin.base_url,
                "agent_id": "agent-1",
                "service_account_json_env": "RBM_SA",
                "client_token_env": "RBM_CLIENT_TOKEN",
            }
        },
        "routes": {"rcs": "rbm"},
    }


def env(standin: RcsStandin) -> dict[str, str]:
    return {"RBM_SA": standin.service_account_json(), "RBM_CLIENT_TOKEN": standin.client_token}


CARD = {
    "channel": "rcs",
    "sender": "AliceCo",
    "rich_card": {
        "standalone_card": {
            "card_orientation": "VERTICAL",
            "thumbnail_image_alignment": "LEFT",
            "card_content": {
                "title": "Your order",
                "description": "Arrives today",
                "media": {
                    "height": "MEDIUM",
                    "content_info": {"file_url": "https://x.test/a.png", "force_refresh": False},
                },
            },
        }
    },
    "suggestions": [
        {"reply": {"text": "Thanks", "postback_data": "thanks"}},
        {
            "action": {
                "text": "Call",
                "postback_data": "call",
                "dial_action": {"phone_number": "+37251234567"},
            }
        },
    ],
}


async def test_rich_card_delivered_then_read(tmp_path: Path, rbm: RcsStandin) -> None:
    async with gateway(tmp_path, config(rbm), env(rbm)) as gw:
        omni = await gw.send(TO, CARD)
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        mid = st[0]["message_id"]
        msisdn, params, body = rbm.received[-1]
        assert msisdn == TO and params == {"messageId": mid, "agentId": "agent-1"}
        assert rbm.tokens_issued == 1
        card = body["contentMessage"]["richCard"]["standaloneCard"]
        assert card["cardOrientation"] == "VERTICAL"
        assert card["cardContent"]["media"]["contentInfo"]["fileUrl"] == "https://x.test/a.png"
        assert body["contentMessage"]["suggestions"][1]["action"]["dialAction"] == {
            "phoneNumber": "+37251234567"
        }
        assert body["ttl"].endswith("s")
        assert (await gw.callback("rbm", *rbm.event(mid, "DELIVERED", TO))).status_code == 200
        await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        read = rbm.event(mid, "READ", TO)
        assert (await gw.callback("rbm", *read)).status_code == 200
        assert (await gw.callback("rbm", *read)).status_code == 200  # replay
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "SEEN")
        assert st[0]["err"] == 10 and gw.reported(mid, "SEEN") == 1


async def test_token_uri_setting_is_used(tmp_path: Path, rbm: RcsStandin) -> None:
    """`token_uri` moves the OAuth token endpoint (base_url moves only the RBM API); the sender
    is the RBM agent id, in the form RBM gives it."""
    cfg = config(rbm)
    cfg["connectors"]["rbm"]["token_uri"] = f"{rbm.base_url}/elsewhere/token"
    sa = {"RBM_SA": rbm.service_account_json(token_uri=None)}
    async with gateway(tmp_path, cfg, {**env(rbm), **sa}) as gw:
        omni = await gw.send(TO, {"channel": "rcs", "sender": "my-agent_1", "text": "hi"})
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        assert st[0]["sender"] == "my-agent_1"
        assert rbm.token_paths == ["/elsewhere/token"] and rbm.tokens_issued == 1
        assert rbm.received[-1][1]["messageId"] == st[0]["message_id"]


async def test_no_rcs_device_falls_back_at_once(tmp_path: Path, rbm: RcsStandin) -> None:
    rbm.behaviour[TO] = "no_rcs"
    async with gateway(tmp_path, config(rbm), env(rbm)) as gw:
        omni = await gw.send(
            TO,
            {"channel": "rcs", "sender": "AliceCo", "text": "hi"},
            {"channel": "sms", "text": "hi"},
        )
        st = await gw.wait_status(omni, lambda s: s[1]["status"] == "DELIVRD")
        assert st[0]["status"] == "REJECTD" and st[0]["err"] == 9


async def test_forged_event_and_handshake(tmp_path: Path, rbm: RcsStandin) -> None:
    async with gateway(tmp_path, config(rbm), env(rbm)) as gw:
        omni = await gw.send(TO, {"channel": "rcs", "sender": "AliceCo", "text": "hi"})
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        mid = st[0]["message_id"]
        forged = rbm.event(mid, "DELIVERED", TO, token="guessed")
        assert (await gw.callback("rbm", *forged)).status_code == 403
        await asyncio.sleep(0.2)
        assert (await gw.status(omni))[0]["status"] == "ACK"
        ok = await gw.client.post(
            "/providers/rbm/webhook", json={"clientToken": rbm.client_token, "secret": "12345"}
        )
        assert ok.status_code == 200 and ok.text == "12345"
        bad = await gw.client.post(
            "/providers/rbm/webhook", json={"clientToken": "nope", "secret": "12345"}
        )
        assert bad.status_code == 403
