"""Messente relay connector against a local stand-in of an upstream Messente API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins.gateway import gateway, wait_for
from tests.standins.messente import MessenteStandin
from tests.standins.runner import Served

TO = "+37251000301"


@pytest.fixture
def upstream() -> Iterator[tuple[MessenteStandin, str]]:
    standin = MessenteStandin()
    with Served(standin.app()) as url:
        yield standin, url


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "connectors": {
            "up": {
                "type": "messente",
                "base_url": f"{url}/v1",
                "username": "upstream-user",
                "password_env": "UP_PASSWORD",
                "dlr_url": "https://gw.example.com/providers/up/webhook",
                **extra,
            }
        },
        "routes": {"sms": "up", "viber": "up"},
    }


ENV = {"UP_PASSWORD": "upstream-password"}
SMS = {"channel": "sms", "text": "Hello via upstream", "sender": "AliceCo"}


async def test_relay_and_dlrs(tmp_path: Path, upstream: tuple[MessenteStandin, str]) -> None:
    standin, url = upstream
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, SMS)
        await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        sent = standin.received[-1]
        assert sent["to"] == TO
        assert sent["dlr_url"] == "https://gw.example.com/providers/up/webhook"
        [m] = sent["messages"]
        assert m["channel"] == "sms" and m["text"] == "Hello via upstream"
        assert m["sender"] == "AliceCo" and m["validity"] == 360
        ref = standin.last_message_id()
        r = await gw.callback("up", *standin.dlr(ref, "DELIVRD"))
        assert r.status_code == 200
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "DELIVRD")
        assert st[0]["message_id"] != ref  # our own id, not the upstream's


async def test_forged_and_replayed_dlrs(
    tmp_path: Path, upstream: tuple[MessenteStandin, str]
) -> None:
    standin, url = upstream
    async with gateway(tmp_path, config(url), ENV) as gw:
        omni = await gw.send(TO, SMS)
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        mid, ref = st[0]["message_id"], standin.last_message_id()
        forged = standin.dlr(ref, "UNDELIV", 1, key="not-the-password")
        assert (await gw.callback("up", *forged)).status_code == 403
        body, headers = standin.dlr(ref, "UNDELIV", 1)
        assert (
            await gw.callback("up", body, {"Content-Type": "application/json"})
        ).status_code == 401
        await asyncio.sleep(0.2)
        assert (await gw.status(omni))[0]["status"] == "ACK"
        for _ in range(2):
            assert (await gw.callback("up", body, headers)).status_code == 200
        await gw.wait_status(omni, lambda s: s[0]["status"] == "UNDELIV")
        assert gw.reported(mid, "UNDELIV") == 1


async def test_upstream_rejection_and_rate_limit(
    tmp_path: Path, upstream: tuple[MessenteStandin, str]
) -> None:
    standin, url = upstream
    standin.behaviour[TO] = "invalid"
    limited = "+37251000302"
    standin.behaviour[limited] = "rate_limit"
    async with gateway(tmp_path, config(url, backoff_base_s=0.5), ENV) as gw:
        omni = await gw.send(TO, SMS)
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "REJECTD")
        assert st[0]["err"] == 5
        omni2 = await gw.send(limited, SMS)
        await gw.wait_status(omni2, lambda s: s[0]["status"] == "ACK")
        assert sum(1 for b in standin.received if b["to"] == limited) == 2


async def test_wrong_upstream_password_fails_the_channel(
    tmp_path: Path, upstream: tuple[MessenteStandin, str]
) -> None:
    standin, url = upstream
    async with gateway(tmp_path, config(url), {"UP_PASSWORD": "wrong"}) as gw:
        omni = await gw.send(TO, SMS)
        st = await gw.wait_status(omni, lambda s: s[0]["status"] is not None)
        assert st[0]["status"] == "FAILED" and st[0]["err"] == 999
        await wait_for(lambda: not standin.received)
