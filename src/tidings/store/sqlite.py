"""SQLite adapter: one writer connection and one reader connection, each on its own thread.

WAL mode with `synchronous=FULL`, so a committed write (and so a 201) is on disk. Statements run on
the connection's thread; an asyncio lock keeps one write transaction at a time in this process,
and `BEGIN IMMEDIATE` with a busy timeout serialises against other processes on the same file.
"""

from __future__ import annotations

import asyncio
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
        data = [[_arg(x) for x in r] for r in rows] if any(isinstance(x, list) for x in rows[0]) else rows
        await self._conn.run(lambda c: c.executemany(q, data))


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = _Conn(path, "w")
        self._reader = _Conn(path, "r")
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            await self._writer.run(lambda c: c.execute("BEGIN IMMEDIATE"))
            try:
                yield _SqliteTx(self._writer)
            except BaseException:
                await self._writer.run(lambda c: c.execute("ROLLBACK"))
                raise
            await self._writer.run(lambda c: c.execute("COMMIT"))

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

        async with self._lock:
            rows = await self._writer.run(claim)
        return [Claim(r[0], r[1], r[2], r[3], r[4], lease_token) for r in rows]

    async def now_us(self) -> int:
        return time.time_ns() // 1000

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
