"""Keyword opt-out applied (engine/opt_out.py) on each backend, with the real dispatcher and the
sandbox connector: STOP lists the number and sends one confirmation that the blacklist rule lets
through, while every other message to it ends REJECTD err 8; a repeated STOP sends nothing;
START unlists it and sending works again. The inbound path calls `apply_opt_out` the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.waiting import wait_until_async
from tidings import runtime
from tidings.core.opt_out import (
    DEFAULT_OPT_IN_REPLY,
    DEFAULT_OPT_OUT_REPLY,
    Keyword,
    OptOutSettings,
)
from tidings.engine.opt_out import apply_opt_out
from tidings.engine.service import Engine
from tidings.store.base import Store
from tidings.store.records import Account, OmniView, SandboxMessage
from tidings.store.urls import parse_database_url

PHONE = "+37254000001"


@pytest.fixture
async def account(store: Store) -> Account:
    await runtime.create_account(store, "alice", "secret-1", "AliceCo")
    found = await store.accounts.get("alice")
    assert found is not None
    return found


@pytest.fixture
async def engine(store: Store, database_url: str) -> AsyncIterator[Engine]:
    settings = runtime.ServeSettings(database=parse_database_url(database_url))
    engine = runtime.build_engine(store, settings)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


async def _inbox(store: Store, account: Account, count: int) -> list[SandboxMessage]:
    async def enough() -> list[SandboxMessage] | None:
        got = await store.sandbox.page(account.id, PHONE)
        return got if len(got) >= count else None

    return await wait_until_async(enough, f"{count} sandbox message(s) to {PHONE}")


async def _final(store: Store, account: Account, omni_id: str) -> OmniView:
    async def done() -> OmniView | None:
        view = await store.messages.get(account.id, omni_id)
        assert view is not None
        return view if view.state in ("delivered", "failed") else None

    return await wait_until_async(done, f"omnimessage {omni_id} to end")


def _sms(text: str) -> dict[str, Any]:
    return {"to": PHONE, "messages": [{"channel": "sms", "text": text}]}


async def test_stop_repeated_stop_and_start(engine: Engine, store: Store, account: Account) -> None:
    # An ordinary message is delivered.
    first = await engine.submit(account, _sms("before"))
    await _final(store, account, first.id)

    stop = await apply_opt_out(engine, account.id, PHONE, "sms", "Stop.", "in-1")
    assert stop.keyword == Keyword.OPT_OUT and stop.is_opt_out and stop.changed
    assert stop.confirmation_id is not None
    assert await store.blacklist.has(account.id, PHONE)
    (entry,) = await store.blacklist.entries(account.id)
    assert (entry.phone, entry.source, entry.inbound_id) == (PHONE, "opt_out", "in-1")

    # The confirmation goes through although the number is listed.
    confirmed = await _final(store, account, stop.confirmation_id)
    assert [c.status for c in confirmed.channels] == ["DELIVRD"]
    texts = [m.text for m in await _inbox(store, account, 2)]
    assert texts == [DEFAULT_OPT_OUT_REPLY, "before"]  # newest first

    # Any other message to the number is accepted, then rejected when it fires.
    blocked = await engine.submit(
        account,
        {
            "to": PHONE,
            "messages": [{"channel": "sms", "text": "no"}, {"channel": "viber", "text": "no"}],
        },
    )
    view = await _final(store, account, blocked.id)
    assert view.state == "failed"
    assert [(c.status, c.err) for c in view.channels] == [("REJECTD", 8), ("REJECTD", 8)]
    history = await store.events.history(blocked.id)
    assert [(e.kind, e.status, e.err) for e in history] == [("status", "REJECTD", 8)] * 2

    # A repeated STOP (any form) sends nothing more.
    # (Engine.apply_opt_out is the same function.)
    again = await engine.apply_opt_out(account.id, PHONE.removeprefix("+"), "sms", "STOP", "in-2")
    assert again.is_opt_out and not again.changed and again.confirmation_id is None

    # An ordinary text is not a keyword: nothing happens.
    chat = await apply_opt_out(engine, account.id, PHONE, "sms", "stop please", "in-3")
    assert chat.keyword is None and not chat.changed

    # START unlists the number and confirms; sending works again.
    start = await apply_opt_out(engine, account.id, PHONE, "sms", " start! ", "in-4")
    assert start.is_opt_in and start.changed and start.confirmation_id is not None
    assert not await store.blacklist.has(account.id, PHONE)
    after = await engine.submit(account, _sms("after"))
    assert (await _final(store, account, after.id)).state == "delivered"
    texts = [m.text for m in await _inbox(store, account, 4)]
    assert texts[:2] == ["after", DEFAULT_OPT_IN_REPLY] or texts[:2] == [
        DEFAULT_OPT_IN_REPLY,
        "after",
    ]
    assert texts.count(DEFAULT_OPT_OUT_REPLY) == 1  # one confirmation for two STOPs
    assert "no" not in texts

    # The history shows every keyword with its inbound message.
    events = await store.blacklist.history(account.id, PHONE)
    assert [(e.action, e.source, e.inbound_id) for e in events] == [
        ("added", "opt_out", "in-1"),
        ("unchanged", "opt_out", "in-2"),
        ("removed", "opt_in", "in-4"),
    ]


async def test_account_words_and_replies_on_the_channel_it_came_from(
    engine: Engine, store: Store, account: Account
) -> None:
    assert await store.accounts.set_opt_out(
        "alice",
        OptOutSettings(opt_out_words=("lopeta",), opt_out_reply="Loobutud. Saada START."),
    )
    result = await apply_opt_out(engine, account.id, PHONE, "whatsapp", "Lõpeta!", "wa-1")
    assert result.is_opt_out and result.confirmation_id is not None
    confirmed = await _final(store, account, result.confirmation_id)
    assert [(c.channel, c.sender, c.status) for c in confirmed.channels] == [
        ("whatsapp", "AliceCo", "DELIVRD")
    ]
    (message,) = await _inbox(store, account, 1)
    assert (message.channel, message.text) == ("whatsapp", "Loobutud. Saada START.")
    # The standard words still apply; the settings belong to this account only.
    assert (await store.accounts.opt_out(account.id)).opt_out_words == ("lopeta",)
    other = await store.accounts.create("bob", "hash", "BobCo", "secret")
    assert await store.accounts.opt_out(other.id) == OptOutSettings()
    bob_result = await apply_opt_out(engine, other.id, PHONE, "sms", "lopeta", "in-bob")
    assert bob_result.keyword is None
    assert not await store.blacklist.has(other.id, PHONE)


async def test_an_impossible_number_is_refused(engine: Engine, account: Account) -> None:
    with pytest.raises(ValueError, match="country code"):
        await apply_opt_out(engine, account.id, "+999123", "sms", "STOP", "in-x")


async def test_a_confirmation_the_front_door_refuses_leaves_the_listing(
    engine: Engine, store: Store, account: Account
) -> None:
    """RCS needs its agent as sender; without one there is no confirmation, but the opt-out
    holds."""
    result = await apply_opt_out(engine, account.id, PHONE, "rcs", "STOP", "rcs-1")
    assert result.is_opt_out and result.changed and result.confirmation_id is None
    assert await store.blacklist.has(account.id, PHONE)
