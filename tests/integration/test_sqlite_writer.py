"""The SQLite writer thread on a real database file: order, priority bound, atomicity."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tidings.store.factory import open_store
from tidings.store.queries import adhoc
from tidings.store.sqlite_writer import WriterThread
from tidings.store.tx import Tx
from tidings.store.urls import parse_database_url


async def test_urgent_jobs_go_first_but_never_more_than_the_streak_limit(tmp_path: Path) -> None:
    writer = WriterThread(tmp_path / "w.db", urgent_streak=2)
    order: list[str] = []
    release = threading.Event()

    def blocker(c: sqlite3.Connection) -> None:
        release.wait(5)

    def job(name: str) -> Callable[[sqlite3.Connection], None]:
        def run(c: sqlite3.Connection) -> None:
            order.append(name)

        return run

    try:
        hold = asyncio.create_task(writer.run(blocker))
        await asyncio.sleep(0.05)  # the thread is busy: everything below queues
        jobs = [asyncio.create_task(writer.run(job(f"n{i}"))) for i in range(3)]
        jobs += [asyncio.create_task(writer.run(job(f"u{i}"), urgent=True)) for i in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(hold, *jobs)
    finally:
        await writer.close()
    assert order == ["u0", "u1", "n0", "u2", "u3", "n1", "u4", "n2"]


async def test_an_error_reaches_its_caller_and_the_thread_goes_on(tmp_path: Path) -> None:
    writer = WriterThread(tmp_path / "w.db")

    def boom(c: sqlite3.Connection) -> None:
        c.execute("BEGIN IMMEDIATE")
        raise ValueError("inside a transaction")

    try:
        with pytest.raises(ValueError):
            await writer.run(boom)

        def begin_again(c: sqlite3.Connection) -> bool:
            c.execute("BEGIN IMMEDIATE")  # fails if the failed job's transaction were still open
            c.execute("ROLLBACK")
            return True

        assert await writer.run(begin_again)
    finally:
        await writer.close()


async def test_transact_is_atomic_and_refuses_foreign_awaits(tmp_path: Path) -> None:
    store = await open_store(parse_database_url(f"sqlite:///{tmp_path / 't.db'}"))
    try:

        async def half_then_fail(tx: Tx) -> None:
            await tx.execute(adhoc("UPDATE accounts SET default_sender = 'Changed'"))
            raise RuntimeError("abandon")

        async def sleeps(tx: Tx) -> None:
            await asyncio.sleep(0)  # not the transaction: cannot run on the writer thread

        await store.accounts.create("alice", "hash", "Alice", "secret")
        with pytest.raises(RuntimeError, match="abandon"):
            await store.transact(half_then_fail)
        with pytest.raises(RuntimeError, match="awaited something other"):
            await store.transact(sleeps)
        account = await store.accounts.get("alice")
        assert account is not None and account.default_sender == "Alice"
    finally:
        await store.close()


async def test_write_context_holds_its_transaction_against_transact(tmp_path: Path) -> None:
    """A statement-by-statement `write()` and whole-script `transact` calls interleave on the
    event loop but never inside each other's transaction."""
    store = await open_store(parse_database_url(f"sqlite:///{tmp_path / 't.db'}"))
    try:
        await store.accounts.create("alice", "hash", "Alice", "secret")

        async def rename(tx: Tx) -> None:
            await tx.execute(adhoc("UPDATE accounts SET default_sender = 'Script'"))

        with pytest.raises(RuntimeError):
            async with store.write() as tx:
                await tx.execute(adhoc("UPDATE accounts SET default_sender = 'Held'"))
                other = asyncio.create_task(store.transact(rename))
                await asyncio.sleep(0.05)
                assert not other.done()  # queued behind the open transaction
                raise RuntimeError("roll back")
        await other
        account = await store.accounts.get("alice")
        assert account is not None and account.default_sender == "Script"
    finally:
        await store.close()
