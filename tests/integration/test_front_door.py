"""The front door (`Engine.submit`, `Engine.submit_bulk`) over a real database: what it stores,
what it refuses and with which `source`, and how it handles an account that changed under a
request. The API's and the console's own tests cover the same door through HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings import runtime
from tidings.core.errors import RequestInvalid
from tidings.engine.service import Engine, EngineSettings
from tidings.store.base import Store
from tidings.store.records import Account, CancelResult, NewOmnimessage
from tidings.store.urls import parse_database_url

TO = "+37251234567"


def sms(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"to": TO, "messages": [{"channel": "sms", "text": text}], **extra}


def rereads(store: Store, asked: list[int]) -> Callable[[], Awaitable[Account]]:
    """A `reauthenticate` that reads alice's account again (each call noted in `asked`)."""

    async def reauthenticate() -> Account:
        asked.append(1)
        fresh = await store.accounts.get("alice")
        assert fresh is not None
        return fresh

    return reauthenticate


@pytest.fixture
async def engine(store: Store, database_url: str) -> AsyncIterator[Engine]:
    settings = runtime.ServeSettings(
        database=parse_database_url(database_url),
        engine=EngineSettings(dispatch_enabled=False),
    )
    yield runtime.build_engine(store, settings)


@pytest.fixture
async def account(store: Store) -> Account:
    await runtime.create_account(store, "alice", "secret-1", "AliceCo")
    await store.accounts.update("alice", dlr_url="https://example.com/dlr")
    found = await store.accounts.get("alice")
    assert found is not None
    return found


async def test_submit_stores_with_the_accounts_defaults(
    engine: Engine, store: Store, account: Account
) -> None:
    record = await engine.submit(account, sms())

    assert record.channels[0].sender == "AliceCo"
    assert record.dlr_url == "https://example.com/dlr"
    view = await store.messages.get(account.id, record.id)
    assert view is not None and view.to == TO


async def test_refusal_names_the_field_and_stores_nothing(
    engine: Engine, store: Store, account: Account
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        await engine.submit(account, {"to": TO, "messages": [{"channel": "pigeon", "text": "x"}]})

    assert [e.source for e in caught.value.errors] == ["messages[0].channel"]
    assert await store.timers.pending_count() == 0


async def test_a_dlr_url_the_guard_refuses_is_refused_at_the_door(
    engine: Engine, store: Store, account: Account
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        await engine.submit(account, sms(dlr_url="http://127.0.0.1:9/dlr"))

    assert [e.source for e in caught.value.errors] == ["dlr_url"]
    assert "not an allowed webhook target" in caught.value.errors[0].detail
    assert await store.timers.pending_count() == 0


async def test_bulk_keeps_the_order_and_stores_only_the_valid_items(
    engine: Engine, store: Store, account: Account
) -> None:
    body = {"messages": [sms("a"), sms("b", dlr_url="http://localhost./x"), {"to": TO}, sms("d")]}

    items = await engine.submit_bulk(account, body)

    assert [type(i).__name__ for i in items] == [
        "NewOmnimessage",
        "RequestInvalid",
        "RequestInvalid",
        "NewOmnimessage",
    ]
    refused = [i for i in items if isinstance(i, RequestInvalid)]
    assert refused[0].errors[0].source == "messages[1].dlr_url"
    assert refused[1].errors[0].source == "messages[2].messages"
    stored = [i for i in items if isinstance(i, NewOmnimessage)]
    for record in stored:
        assert await store.messages.get(account.id, record.id) is not None
    assert await store.timers.pending_count() == 2


async def test_bulk_that_is_not_a_bulk_request_is_refused_whole(
    engine: Engine, account: Account
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        await engine.submit_bulk(account, {"messages": "no"})

    assert caught.value.errors[0].source == "messages"


async def test_an_account_changed_under_the_request_is_read_again(
    engine: Engine, store: Store, account: Account
) -> None:
    """The credential was remembered at an older version: the accepting transaction notices,
    the door asks for the account again and stores what it is now (its new sender)."""
    await store.accounts.update("alice", default_sender="NewName")  # bumps the version
    asked: list[int] = []
    record = await engine.submit(account, sms(), reauthenticate=rereads(store, asked))

    assert asked == [1]
    assert record.channels[0].sender == "NewName"
    assert await store.messages.get(account.id, record.id) is not None


async def test_a_removed_account_stores_nothing(
    engine: Engine, store: Store, account: Account
) -> None:
    await store.accounts.remove("alice")

    class Gone(Exception):
        pass

    async def reauthenticate() -> Account:
        raise Gone

    with pytest.raises(Gone):
        await engine.submit(account, sms(), reauthenticate=reauthenticate)
    with pytest.raises(Gone):
        await engine.submit_bulk(account, {"messages": [sms()]}, reauthenticate=reauthenticate)
    assert await store.timers.pending_count() == 0


async def test_all_items_refused_still_asks_whether_the_caller_holds(
    engine: Engine, store: Store, account: Account
) -> None:
    """Nothing to store, so no transaction checks the account: the door asks explicitly, so a
    caller whose password changed learns nothing about its body."""
    asked: list[int] = []

    async def reauthenticate() -> Account:
        asked.append(1)
        return account

    items = await engine.submit_bulk(
        account, {"messages": [{"to": TO}]}, reauthenticate=reauthenticate
    )

    assert asked == [1] and isinstance(items[0], RequestInvalid)


async def test_a_cancel_under_a_changed_account_asks_again_before_cancelling(
    engine: Engine, store: Store, account: Account
) -> None:
    """The cancel's transaction checks the version the caller was authenticated at: changed,
    nothing is cancelled and the caller is asked again; a caller that no longer signs in
    (a new password, a removal) cancels nothing, one that still does cancels."""
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    scheduled = sms(time_to_send=tomorrow.isoformat(timespec="seconds"))
    keep = await engine.submit(account, scheduled)
    other = await engine.submit(account, scheduled)
    await store.accounts.update("alice", password_hash="changed")  # bumps the version

    class SignedOut(Exception):
        """What a caller that no longer signs in gets from reauthenticate (a 401 in the API)."""

    async def refused() -> Account:
        raise SignedOut

    with pytest.raises(SignedOut):
        await engine.cancel(account, keep.id, reauthenticate=refused)
    view = await store.messages.get(account.id, keep.id)
    assert view is not None and view.state == "scheduled"

    asked: list[int] = []
    assert await engine.cancel(account, other.id, reauthenticate=rereads(store, asked)) == (
        CancelResult.CANCELLED
    )
    assert asked == [1]
    view = await store.messages.get(account.id, other.id)
    assert view is not None and view.state == "cancelled"
