"""SQLite adapter: a writer and two readers (general, dispatcher), each on its own thread.

WAL mode with `synchronous=FULL`, so a committed write (and so a 201) is on disk. Transactions run
as whole jobs on the writer's thread (sqlite_writer.py), one at a time in this process; `BEGIN
IMMEDIATE` with a busy timeout serialises against other processes on the same file.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import queue
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from tidings.store.base import Store
from tidings.store.queries import Query, query
from tidings.store.records import Claim
from tidings.store.sqlite_writer import WriterThread, open_connection, resolve
from tidings.store.tx import Row, Script

T = TypeVar("T")

_CLAIM = query("claim_due")


def _sql(q: Query) -> str:
    if q.sqlite is None:
        raise LookupError(f"query {q.name!r} has no SQLite form")
    return q.sqlite


def _arg(v: object) -> object:
    # List parameters travel as JSON and are unpacked by json_each (see tx.py).
    return orjson.dumps(v).decode() if isinstance(v, list) else v


def _batch_args(rows: Sequence[Sequence[object]]) -> Sequence[Sequence[object]]:
    # List parameters are rare in batches; convert only when the first row has one.
    if any(isinstance(x, list) for x in rows[0]):
        return [[_arg(x) for x in r] for r in rows]
    return rows


class _Conn:
    def __init__(self, path: Path, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sqlite-{name}")
        self._path = path
        self.conn: sqlite3.Connection | None = None

    def _open(self) -> None:
        self.conn = open_connection(self._path)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self.conn is None:
                self._open()
            assert self.conn is not None
            return fn(self.conn)

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def close(self) -> None:
        def shut() -> None:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=True)


class _Session:
    """A write transaction held open on the writer thread while its statements arrive one at a
    time from the event loop (for callers that use `write()` directly; the store's own
    operations use `transact`, which runs a whole transaction in one job)."""

    END_COMMIT = object()
    END_ROLLBACK = object()

    def __init__(self) -> None:
        self.statements: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def hold(
        self, loop: asyncio.AbstractEventLoop, begun: asyncio.Future[None]
    ) -> Callable[[sqlite3.Connection], None]:
        def job(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            loop.call_soon_threadsafe(resolve, begun, None, None)
            while True:
                item = self.statements.get()
                if item is _Session.END_COMMIT:
                    c.execute("COMMIT")
                    return
                if item is _Session.END_ROLLBACK:
                    c.execute("ROLLBACK")
                    return
                fn, fut = item
                try:
                    result, error = fn(c), None
                except Exception as exc:
                    result, error = None, exc
                loop.call_soon_threadsafe(resolve, fut, result, error)

        return job

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.statements.put((fn, fut))
        return await fut


class _SqliteTx:
    def __init__(self, conn: _Conn | _Session) -> None:
        self._conn = conn

    async def fetch(self, query: Query, *args: object) -> list[Row]:
        q, a = _sql(query), [_arg(x) for x in args]
        return await self._conn.run(lambda c: c.execute(q, a).fetchall())

    async def execute(self, query: Query, *args: object) -> int:
        q, a = _sql(query), [_arg(x) for x in args]
        return await self._conn.run(lambda c: c.execute(q, a).rowcount)

    async def executemany(self, query: Query, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        q = _sql(query)
        data = _batch_args(rows)
        await self._conn.run(lambda c: c.executemany(q, data))


class _ThreadTx:
    """A transaction driven on the connection's own thread: its awaits never suspend."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    async def fetch(self, query: Query, *args: object) -> list[Row]:
        return self._c.execute(_sql(query), [_arg(x) for x in args]).fetchall()

    async def execute(self, query: Query, *args: object) -> int:
        return self._c.execute(_sql(query), [_arg(x) for x in args]).rowcount

    async def executemany(self, query: Query, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        self._c.executemany(_sql(query), _batch_args(rows))


def _drive(script: Script[T], conn: sqlite3.Connection) -> T:
    """Run a transaction script to completion on this thread. The script awaits only its Tx,
    whose methods here finish without suspending, so one `send` runs it all."""
    coro = script(_ThreadTx(conn))
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coro.close()
    raise RuntimeError("a transaction script awaited something other than its transaction")


def _read(script: Script[T], c: sqlite3.Connection) -> T:
    c.execute("BEGIN")  # one snapshot for all the script's statements
    try:
        return _drive(script, c)
    finally:
        c.execute("COMMIT")


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._writer = WriterThread(path)
        self._reader = _Conn(path, "r")
        # The dispatcher's own reads get a connection (and thread) of their own: a slow read
        # elsewhere (the pending-count gauge, COUNT(*) over a million rows: ~3 s; a console
        # search) must not hold up the claim loop. Measured: immediate sends p99 +1.8 s with
        # 1 000 000 pending when they shared one reader.
        self._engine_reader = _Conn(path, "e")
        self._dispatch_lock: int | None = None

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[_SqliteTx]:
        loop = asyncio.get_running_loop()
        session = _Session()
        begun: asyncio.Future[None] = loop.create_future()
        holding = asyncio.ensure_future(self._writer.run(session.hold(loop, begun), urgent=urgent))
        await asyncio.wait([begun, holding], return_when=asyncio.FIRST_COMPLETED)
        if not begun.done():
            await holding  # BEGIN failed: raises why
        try:
            yield _SqliteTx(session)
        except BaseException:
            session.statements.put(_Session.END_ROLLBACK)
            await asyncio.shield(holding)
            raise
        session.statements.put(_Session.END_COMMIT)
        await holding

    @asynccontextmanager
    async def read(self) -> AsyncIterator[_SqliteTx]:
        yield _SqliteTx(self._reader)

    async def transact(self, script: Script[T], *, urgent: bool = False) -> T:
        """The whole transaction as one job of the writer thread: no other transaction waits
        while the event loop is busy between its statements."""

        def run(c: sqlite3.Connection) -> T:
            c.execute("BEGIN IMMEDIATE")
            try:
                result = _drive(script, c)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")
            return result

        return await self._writer.run(run, urgent=urgent)

    async def query(self, script: Script[T]) -> T:
        return await self._reader.run(functools.partial(_read, script))

    async def dispatch_query(self, script: Script[T]) -> T:
        return await self._engine_reader.run(functools.partial(_read, script))

    async def claim_due(
        self, owner: str, lease_token: int, horizon_us: int, limit: int, lease_until_us: int
    ) -> list[Claim]:
        args = (owner, lease_token, lease_until_us, horizon_us, limit)
        sql = _sql(_CLAIM)

        def claim(c: sqlite3.Connection) -> list[Any]:
            c.execute("BEGIN IMMEDIATE")
            try:
                rows = c.execute(sql, args).fetchall()
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")
            return rows

        rows = await self._writer.run(claim, urgent=True)
        return [Claim.from_row(r, lease_token) for r in rows]

    async def now_us(self) -> int:
        return time.time_ns() // 1000

    async def sole_dispatcher(self) -> bool:
        """Take the file's dispatch lock (an advisory lock on `<db>.dispatch-lock`, released by
        the OS when this process ends, however it ends). Held, no other live process dispatches
        from this file, so every claim still leased was left by a dead one."""
        if self._dispatch_lock is not None:
            return True
        fd = os.open(f"{self.path}.dispatch-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._dispatch_lock = fd
        return True

    async def close(self) -> None:
        if self._dispatch_lock is not None:
            os.close(self._dispatch_lock)
            self._dispatch_lock = None
        await self._writer.close()
        await self._reader.close()
        await self._engine_reader.close()
