"""The first account of a new database, when several processes start on it at once."""

from __future__ import annotations

import asyncio

import pytest

from tidings.runtime import ensure_first_account
from tidings.store.base import Store


async def test_processes_starting_together_create_one_first_account(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.gather(*(ensure_first_account(store, "http://x") for _ in range(4)))
    accounts = await store.accounts.all()
    assert [a.username for a in accounts] == ["tidings"]
    # Its password is printed once, by the process that created it.
    assert capsys.readouterr().out.count("password: ") == 1


async def test_no_first_account_once_there_is_one(store: Store) -> None:
    await store.accounts.create("alice", "hash", "AliceCo", "secret")
    assert await store.accounts.create_first("tidings", "hash", "Tidings", "secret") is None
    assert [a.username for a in await store.accounts.all()] == ["alice"]
