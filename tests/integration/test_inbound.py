"""Inbound (MO) messages through the one entry for callbacks, on SQLite and PostgreSQL: stored
once per provider id, owned, forwarded signed to the owner's inbound URL; the sandbox's
simulated reply takes the same path and refuses bad input with Messente errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.receiver import Receiver
from tests.standins.gateway import Gateway, gateway
from tests.waiting import async_value, wait_until_async
from tidings import runtime
from tidings.core.inbound import InboundMessage, StoredInbound
from tidings.webhooks.signing import messente_signature

TO = "+37251000601"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


async def _secret(gw: Gateway, username: str = "alice") -> str:
    account = await gw.store.accounts.get(username)
    assert account is not None
    return account.signing_secret


async def _received(receiver: Receiver, count: int) -> list[Any]:
    await wait_until_async(
        async_value(lambda: len(receiver.received) >= count), f"{count} inbound webhooks"
    )
    return list(receiver.received)


def _sandbox_config(inbound_account: str | None = None) -> dict[str, Any]:
    sandbox: dict[str, Any] = {"type": "sandbox"}
    if inbound_account is not None:
        sandbox["inbound_account"] = inbound_account
    return {"connectors": {"sandbox": sandbox}}


async def test_sandbox_reply_is_stored_and_forwarded_signed(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    async with gateway(
        tmp_path, _sandbox_config(), database=database_url, allow_loopback_webhooks=True
    ) as gw:
        assert await gw.store.inbound.set_url("alice", receiver.url)
        r = await gw.client.post(
            "/v1/sandbox/inbound", json={"from": TO, "channel": "sms", "text": "Jah, tulen 🎉"}
        )
        assert r.status_code == 201, r.text
        answer = r.json()
        assert answer["sender"] == TO and answer["channel"] == "sms"
        assert answer["text"] == "Jah, tulen 🎉" and answer["recipient"] == "AliceCo"
        (got,) = await _received(receiver, 1)
        assert got.headers["x-messente-signature"] == messente_signature(
            await _secret(gw), got.body
        )
        body = got.json
        assert body["msg_id"] == answer["msg_id"] == body["sub_msg_id"]
        assert (body["sender"], body["channel"], body["text"]) == (TO, "sms", "Jah, tulen 🎉")
        assert body["time"].endswith("Z") and body["connector"] == "sandbox"
        assert body["opt_out"] is None
        alice = await gw.store.accounts.get("alice")
        assert alice is not None
        (row,) = await gw.store.inbound.page(alice.id, 0, 2**62, 10)
        assert (row.id, row.forward_state, row.sender) == (answer["msg_id"], "queued", TO)


async def test_owner_is_the_last_sender_else_the_connectors_account(
    tmp_path: Path, database_url: str
) -> None:
    async with gateway(tmp_path, _sandbox_config("alice"), database=database_url) as gw:
        await runtime.create_account(gw.store, "bob", "bob-secret-pw", "BobCo")
        bob = await gw.store.accounts.get("bob")
        alice = await gw.store.accounts.get("alice")
        assert bob is not None and alice is not None
        r = await gw.client.post(
            "/v1/omnimessage",
            json={"to": TO, "messages": [{"channel": "sms", "text": "Hi from Bob"}]},
            auth=("bob", "bob-secret-pw"),
        )
        assert r.status_code == 201, r.text
        omni = r.json()["omnimessage_id"]

        async def delivered() -> bool:
            got = await gw.client.get(
                f"/v1/omnimessage/{omni}/status", auth=("bob", "bob-secret-pw")
            )
            return bool(got.json()["statuses"][0]["status"] == "DELIVRD")

        await wait_until_async(delivered, "Bob's message delivered")

        def mo(key: str, sender: str) -> InboundMessage:
            return InboundMessage(key, "sms", sender, "BobCo", "reply", 1_700_000_000_000_000)

        out = await gw.engine.callbacks.receive("sandbox", [mo("k1", TO), mo("k2", "+37251000602")])
        assert [s.account_id for s in out.inbound] == [bob.id, alice.id]
        # A replay changes nothing.
        again = await gw.engine.callbacks.receive("sandbox", [mo("k1", TO)])
        assert again.inbound == ()
        assert len(await gw.store.inbound.page(bob.id, 0, 2**62, 10)) == 1


async def test_without_an_owner_it_is_stored_unowned(tmp_path: Path, database_url: str) -> None:
    async with gateway(tmp_path, _sandbox_config(), database=database_url) as gw:
        msg = InboundMessage("k9", "sms", "+37251000603", "x", "hello", 1_700_000_000_000_000)
        out = await gw.engine.callbacks.receive("sandbox", [msg])
        assert [s.account_id for s in out.inbound] == [None]


async def test_replayed_sandbox_reply_with_idempotency_key(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    async with gateway(
        tmp_path, _sandbox_config(), database=database_url, allow_loopback_webhooks=True
    ) as gw:
        await gw.store.inbound.set_url("alice", receiver.url)
        body = {"from": TO, "channel": "whatsapp", "text": "ok"}
        headers = {"Idempotency-Key": "reply-1"}
        first = await gw.client.post("/v1/sandbox/inbound", json=body, headers=headers)
        second = await gw.client.post("/v1/sandbox/inbound", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        await _received(receiver, 1)
        alice = await gw.store.accounts.get("alice")
        assert alice is not None
        assert len(await gw.store.inbound.page(alice.id, 0, 2**62, 10)) == 1


@pytest.mark.parametrize(
    ("content", "body", "status", "source"),
    [
        ("application/json", b"{not json", 400, None),
        ("application/json", b"[]", 400, None),
        ("application/json", b'{"channel":"sms","text":"x"}', 400, "from"),
        ("application/json", b'{"from":5,"channel":"sms","text":"x"}', 400, "from"),
        ("application/json", b'{"from":"+3725","channel":"sms","text":"x"}', 400, "from"),
        ("application/json", b'{"from":"+37251000601","channel":"fax","text":"x"}', 400, "channel"),
        ("application/json", b'{"from":"+37251000601","channel":"sms","text":""}', 400, "text"),
        ("application/json", b'{"from":"+37251000601","channel":"sms","text":7}', 400, "text"),
        (
            "application/json",
            b'{"from":"+37251000601","channel":"sms","text":"a\\u0000"}',
            400,
            "text",
        ),
        (
            "application/json",
            orjson.dumps({"from": TO, "channel": "sms", "text": "é" * 5000}),
            400,
            "text",
        ),
        ("application/json", b'{"from":"+37251000601","text":"' + b"x" * 70_000 + b'"}', 413, None),
        ("text/plain", b'{"from":"+37251000601","channel":"sms","text":"x"}', 415, None),
    ],
)
async def test_bad_sandbox_replies_are_refused(
    tmp_path: Path, content: str, body: bytes, status: int, source: str | None
) -> None:
    async with gateway(tmp_path, _sandbox_config()) as gw:
        r = await gw.client.post(
            "/v1/sandbox/inbound", content=body, headers={"Content-Type": content}
        )
        assert r.status_code == status, r.text
        (err, *_) = r.json()["errors"]
        assert err["source"] == source, err
        alice = await gw.store.accounts.get("alice")
        assert alice is not None
        assert await gw.store.inbound.page(alice.id, 0, 2**62, 10) == []


async def test_sandbox_reply_needs_credentials(tmp_path: Path) -> None:
    async with gateway(tmp_path, _sandbox_config()) as gw:
        r = await gw.client.post(
            "/v1/sandbox/inbound",
            json={"from": TO, "channel": "sms", "text": "x"},
            auth=("alice", "wrong"),
        )
        assert r.status_code == 401


async def test_opt_out_hook_marks_what_is_forwarded(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    async with gateway(
        tmp_path, _sandbox_config(), database=database_url, allow_loopback_webhooks=True
    ) as gw:
        await gw.store.inbound.set_url("alice", receiver.url)
        seen: list[str] = []

        async def opt_out(stored: StoredInbound) -> str | None:
            seen.append(stored.message.text)
            return "out" if stored.message.text == "STOP" else None

        gw.engine.inbound.opt_out = opt_out
        r = await gw.client.post(
            "/v1/sandbox/inbound", json={"from": TO, "channel": "sms", "text": "STOP"}
        )
        assert r.status_code == 201 and r.json()["opt_out"] == "out"
        (got,) = await _received(receiver, 1)
        assert got.json["opt_out"] == "out" and seen == ["STOP"]
        alice = await gw.store.accounts.get("alice")
        assert alice is not None
        (row,) = await gw.store.inbound.page(alice.id, 0, 2**62, 10)
        assert row.opt_out == "out"


async def test_a_message_left_unforwarded_is_forwarded_once_by_the_catch_up(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    async with gateway(
        tmp_path, _sandbox_config("alice"), database=database_url, allow_loopback_webhooks=True
    ) as gw:
        await gw.store.inbound.set_url("alice", receiver.url)
        # Stored by a process that died before its forwarding transaction, two minutes ago.
        now = gw.engine.clock.now_us()
        msg = InboundMessage("dead-1", "sms", TO, "AliceCo", "left behind", now)
        (stored,) = await gw.store.inbound.record("sandbox", [msg], "alice", now - 120_000_000)
        fresh = InboundMessage("live-1", "sms", TO, "AliceCo", "still in hand", now)
        await gw.store.inbound.record("sandbox", [fresh], "alice", now)
        assert await gw.engine.inbound.catch_up() == 1  # only the old one
        (got,) = await _received(receiver, 1)
        assert got.json["msg_id"] == stored.id and got.json["text"] == "left behind"
        # Forwarding twice (a catch-up racing the original process) queues it once.
        assert await gw.store.inbound.forward([stored], now) == 0
        assert await gw.engine.inbound.catch_up() == 0
