"""SQLite adapter: one writer connection and one reader connection, each on its own thread.

WAL mode with `synchronous=FULL`, so a committed write (and so a 201) is on disk. Statements run on
the connection's thread; an asyncio lock keeps one write transaction at a time in this process,
and `BEGIN IMMEDIATE` with a busy timeout serialises against other processes on the same file.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

from tidings.store.base import Store
from tidings.store.records import Claim
from tidings.store.tx import Row, to_sqlite

T = TypeVar("T")

_CLAIM = to_sqlite(
    "UPDATE timers SET state = 'claimed', lease_owner = $1, lease_token = $2, lease_until_us = $3"
    " WHERE id IN ("
    " SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 2"
    "  AND due_us <= $4 ORDER BY due_us LIMIT $5)"
    " UNION ALL SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 1"
    "  AND due_us <= $4 ORDER BY due_us LIMIT $5)"
    " UNION ALL SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 0"
    "  AND due_us <= $4 ORDER BY due_us LIMIT $5)"
    " LIMIT $5)"
    " RETURNING id, kind, ref, due_us, priority"
)


def _arg(v: object) -> object:
    # List parameters travel as JSON and are unpacked by json_each (see tx.py).
    return orjson.dumps(v).decode() if isinstance(v, list) else v


class _Conn:
    def __init__(self, path: Path, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sqlite-{name}")
        self._path = path
        self.conn: sqlite3.Connection | None = None

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA cache_size=-16384")  # 16 MiB per connection
        self.conn = conn

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


# Strict priority for urgent writers starved the bookkeeping writes under a steady 500 msg/s
# (lateness benchmark: p50 271 ms with it, 79 ms without); off until it is bounded.
PRIORITISE_URGENT = False


class _PriorityLock:
    """One writer at a time; waiting urgent writers (firing due messages) go before the rest
    (bookkeeping, reports, inserts), so a burst's hand-overs are not queued behind them."""

    def __init__(self) -> None:
        self._locked = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def acquire(self, urgent: bool) -> None:
        urgent = urgent and PRIORITISE_URGENT
        if not self._locked and not self._waiters:
            self._locked = True
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (0 if urgent else 1, next(self._seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the lock was handed to us as we were cancelled
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)  # ownership passes on: stays locked
                return
        self._locked = False


class _SqliteTx:
    def __init__(self, conn: _Conn) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        q, a = to_sqlite(sql), [_arg(x) for x in args]
        return await self._conn.run(lambda c: c.execute(q, a).fetchall())

    async def execute(self, sql: str, *args: object) -> int:
        q, a = to_sqlite(sql), [_arg(x) for x in args]
        return await self._conn.run(lambda c: c.execute(q, a).rowcount)

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        q = to_sqlite(sql)
        # List parameters are rare in batches; convert only when the first row has one.
        data = (
            [[_arg(x) for x in r] for r in rows]
            if any(isinstance(x, list) for x in rows[0])
            else rows
        )
        await self._conn.run(lambda c: c.executemany(q, data))


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = _Conn(path, "w")
        self._reader = _Conn(path, "r")
        self._lock = _PriorityLock()

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[_SqliteTx]:
        await self._lock.acquire(urgent)
        try:
            await self._writer.run(lambda c: c.execute("BEGIN IMMEDIATE"))
            try:
                yield _SqliteTx(self._writer)
            except BaseException:
                await self._writer.run(lambda c: c.execute("ROLLBACK"))
                raise
            await self._writer.run(lambda c: c.execute("COMMIT"))
        finally:
            self._lock.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[_SqliteTx]:
        yield _SqliteTx(self._reader)

    async def claim_due(
        self, owner: str, lease_token: int, horizon_us: int, limit: int, lease_until_us: int
    ) -> list[Claim]:
        args = (owner, lease_token, lease_until_us, horizon_us, limit)

        def claim(c: sqlite3.Connection) -> list[Any]:
            c.execute("BEGIN IMMEDIATE")
            try:
                rows = c.execute(_CLAIM, args).fetchall()
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")
            return rows

        await self._lock.acquire(True)
        try:
            rows = await self._writer.run(claim)
        finally:
            self._lock.release()
        return [Claim(r[0], r[1], r[2], r[3], r[4], lease_token) for r in rows]

    async def now_us(self) -> int:
        return time.time_ns() // 1000

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
