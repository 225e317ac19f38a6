"""The SQLite writing connection: one thread that runs whole transactions back to back.

Each job is a function of the connection that runs a complete transaction. Jobs queue here rather
than behind an asyncio lock, so the next transaction starts the moment the previous one commits,
without waiting for a busy event loop to hand the lock on. Urgent jobs (claiming and starting
due messages) go first, but never more than `urgent_streak` in a row while other work waits, so
bookkeeping keeps moving under a steady load.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def open_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row  # rows are read by column name
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-16384")  # 16 MiB per connection
    return conn


def resolve(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():
        return  # the caller gave up waiting; the transaction ran (or failed) all the same
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class WriterThread:
    def __init__(self, path: Path, urgent_streak: int = 4) -> None:
        self._path = path
        self._streak_limit = urgent_streak
        self._urgent: deque[_Job] = deque()
        self._normal: deque[_Job] = deque()
        self._cv = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, urgent: bool = False) -> T:
        """Run `fn(connection)` on the writer thread, after the jobs queued before it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        with self._cv:
            if self._closing:
                raise RuntimeError("the SQLite writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name="sqlite-w", daemon=True)
                self._thread.start()
            (self._urgent if urgent else self._normal).append((fn, loop, fut))
            self._cv.notify()
        return await fut

    def _next(self, streak: int) -> tuple[_Job | None, int]:
        with self._cv:
            while not self._urgent and not self._normal and not self._closing:
                self._cv.wait()
            if self._urgent and (not self._normal or streak < self._streak_limit):
                return self._urgent.popleft(), streak + 1
            if self._normal:
                return self._normal.popleft(), 0
            return None, 0

    def _main(self) -> None:
        conn = open_connection(self._path)
        streak = 0
        try:
            while True:
                job, streak = self._next(streak)
                if job is None:
                    return
                fn, loop, fut = job
                try:
                    result, error = fn(conn), None
                except BaseException as exc:  # handed to the caller, never lost
                    result, error = None, exc
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                # RuntimeError: the caller's loop is closed, nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(resolve, fut, result, error)
        finally:
            conn.close()

    async def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
