"""PostgreSQL adapter on asyncpg: a connection pool, the shared scripts, `SKIP LOCKED` claims.

Each write is one transaction on a pooled connection (READ COMMITTED; the scripts lock the rows
they change); the accept and a group of cancels are one statement each (a lone request pays every
round trip), the accept on connections of its own. Reads run on a pooled connection without an explicit transaction. Claims are a
single statement, so any number of processes can claim from the same table without ever getting
the same row. Inserts `NOTIFY tidings_due` in their transaction so that schedulers in other
processes wake up for an earlier due time (a reschedule or a batch resume sends the same
notification after its commit, `wake_others`); `listen()` is the receiving end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]

from tidings.store import idempotency, messages
from tidings.store.base import Store
from tidings.store.errors import DatabaseUnreachable
from tidings.store.queries import Query, query
from tidings.store.records import CancelResult, Claim, KeyAnswer, NewOmnimessage, StatusChange
from tidings.store.tx import Row

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "tidings_due"

_CLAIM = query("claim_due")
_NOW = query("now_us")
_NOTIFY = query("notify_due")
_NOTIFY_CHECKING = query("notify_due_checking")
_PING = query("ping")


def _sql(q: Query) -> str:
    if q.postgresql is None:
        raise LookupError(f"query {q.name!r} has no PostgreSQL form")
    return q.postgresql


_LISTEN_HEALTH_S = 30.0  # how often an idle LISTEN connection is checked
_LISTEN_BACKOFF_S = (0.5, 30.0)  # first and longest wait between reconnection attempts


class _StaleAccounts(Exception):
    """Rolls back an insert whose callers' accounts changed meanwhile."""

    def __init__(self, accounts: set[int]) -> None:
        super().__init__(sorted(accounts))
        self.accounts = accounts


def _rowcount(status: str) -> int:
    """The affected-row count from a command status such as "UPDATE 3" or "INSERT 0 1"."""
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0


def _distinct(rows: Sequence[Sequence[object]], key: tuple[int, ...]) -> bool:
    """No two rows repeat the parameters that identify the target row (see postgresql.sql)."""
    if not key:
        return True
    if len(key) == 1:
        k = key[0]
        return len({r[k] for r in rows}) == len(rows)
    return len({tuple(r[i] for i in key) for r in rows}) == len(rows)


class _PgTx:
    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch(self, query: Query, *args: object) -> list[Row]:
        return cast(list[Row], await self._conn.fetch(_sql(query), *args))

    async def execute(self, query: Query, *args: object) -> int:
        return _rowcount(cast(str, await self._conn.execute(_sql(query), *args)))

    async def executemany(self, query: Query, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        if len(rows) > 1 and query.unnest is not None and _distinct(rows, query.distinct):
            # The whole batch in one statement (`<name>.unnest`): one array per parameter.
            await self._conn.execute(query.unnest, *(list(col) for col in zip(*rows, strict=True)))
            return
        await self._conn.executemany(_sql(query), rows)


class _Listener:
    """A dedicated connection LISTENing on `tidings_due`, kept alive and re-opened when it drops."""

    def __init__(self, dsn: str, callback: Callable[[int | None], None]) -> None:
        self._dsn = dsn
        self._callback = callback
        self._conn: Any = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self._connect()
        except Exception as e:  # refused, auth, timeout, shutting down: all retried
            log.warning("LISTEN %s: cannot connect (%s); will retry", NOTIFY_CHANNEL, e)
        self._task = asyncio.create_task(self._supervise(), name="tidings-pg-listen")

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=10)
        try:
            lost = self._lost = asyncio.Event()
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            due_us: int | None = int(payload)
        except ValueError:
            due_us = None
        self._deliver(due_us)

    def _deliver(self, due_us: int | None) -> None:
        try:
            self._callback(due_us)
        except Exception:
            log.exception("LISTEN %s: callback failed", NOTIFY_CHANNEL)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def _supervise(self) -> None:
        delay = _LISTEN_BACKOFF_S[0]
        while True:
            if self._conn is None or self._conn.is_closed():
                self._drop()
                try:
                    await self._connect()
                except Exception as e:  # refused, auth, timeout, shutting down: all retried
                    log.warning(
                        "LISTEN %s: reconnect failed (%s); retrying in %.1fs",
                        NOTIFY_CHANNEL,
                        e,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _LISTEN_BACKOFF_S[1])
                    continue
                log.info("LISTEN %s: reconnected", NOTIFY_CHANNEL)
                self._deliver(None)  # notifications sent meanwhile are lost: look again
            started = time.monotonic()
            try:
                await asyncio.wait_for(self._lost.wait(), _LISTEN_HEALTH_S)
            except TimeoutError:
                try:
                    await self._conn.fetchval(_sql(_PING), timeout=5)
                    delay = _LISTEN_BACKOFF_S[0]
                    continue
                except Exception:
                    pass
            log.warning("LISTEN %s: connection lost; reconnecting", NOTIFY_CHANNEL)
            self._drop()
            if time.monotonic() - started < _LISTEN_HEALTH_S:
                await asyncio.sleep(delay)  # don't spin on a server that keeps dropping us
                delay = min(delay * 2, _LISTEN_BACKOFF_S[1])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:
                conn.terminate()


async def _connect(*args: Any, **kwargs: Any) -> Any:
    """The pool's `asyncpg.connect`, with a server out of reach (refused, reset, timed out)
    raised as DatabaseUnreachable, which the API answers with a 503."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except OSError as exc:  # TimeoutError included
        raise DatabaseUnreachable(f"cannot reach the database: {exc!r}") from exc


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does (roll back a
    transaction left open, drop listeners). The default also runs `SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` - a round trip on every
    release, so on every store call - to undo session state this store never creates on a
    pooled connection: no session advisory lock, cursor, LISTEN or SET (migrations and the
    LISTEN connection use connections of their own). Measured: `pool.fetchval("SELECT 1")`
    p50 0.32 -> 0.14 ms."""


async def _pool(dsn: str, min_size: int, max_size: int, plan_cache_mode: str) -> Any:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        connect=_connect,
        reset=_keep_session,
        # asyncpg keeps 100 prepared statements per connection by default; the store names
        # about 170, and once a connection's working set passes 100 it prepares them again
        # (a round trip and a plan) in its LRU's churn. Measured (bench lateness --quick,
        # PostgreSQL): p99 4.4/5.9 ms -> 2.8/2.6 ms, p50 0.36/0.41 -> 0.34/0.32 ms.
        statement_cache_size=1024,
        server_settings={
            # Short OLTP statements: JIT compilation only ever adds latency here.
            "jit": "off",
            # The main pool (force_custom_plan): asyncpg prepares every statement; after five
            # runs PostgreSQL may switch to a generic plan, chosen while the tables were small
            # (a fresh database, before autovacuum's first ANALYZE): a sequential scan with
            # `= ANY($1)` as a filter, which grows with the table. Seen: `_load` 20 ms -> 1.3 s
            # within a minute at 500 messages/s, firing lateness p99 220 ms. Planning each run
            # costs ~0.1 ms.
            "plan_cache_mode": plan_cache_mode,
            "application_name": "tidings",
        },
    )


class PostgresStore(Store):
    kind = "postgresql"
    # Measured (bench cancel --quick, 16 concurrent): cancel p99 16.6-17.9 ms with one group
    # transaction at a time, 10.2-11.0 with two; three and four spread wider (9-24 ms). Accepts
    # keep one: with two, firing lateness p99 at 500/s reached 4.7 and 6.1 ms in two of five
    # runs (at most 3.0 in four runs with one), for no clear gain in accepted requests.
    transactions_in_flight = 2

    def __init__(self, pool: Any, accept_pool: Any, dsn: str) -> None:
        super().__init__()
        self._pool = pool
        self._accept_pool = accept_pool
        self._dsn = dsn
        self._listeners: list[_Listener] = []

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 2, max_size: int = 20) -> PostgresStore:
        pool = await _pool(dsn, min_size, max_size, "force_custom_plan")
        # The accept statement (accept_omnimessages) has no plan to choose (inserts, and a
        # primary-key probe per account), yet planning it each time cost a lone accept 0.15-0.2
        # ms (p50 0.67 -> 0.47-0.52 ms without). It runs on connections of its own that always
        # use the generic plan: accepts are group-committed, one transaction at a time.
        try:
            accept_pool = await _pool(dsn, 1, 2, "force_generic_plan")
        except BaseException:
            await pool.close()
            raise
        return cls(pool, accept_pool, dsn)

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[_PgTx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgTx(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[_PgTx]:
        async with self._pool.acquire() as conn:
            yield _PgTx(conn)

    async def claim_due(
        self, owner: str, lease_token: int, horizon_us: int, limit: int, lease_until_us: int
    ) -> list[Claim]:
        rows = await self._pool.fetch(
            _sql(_CLAIM), owner, lease_token, lease_until_us, horizon_us, limit
        )
        return [Claim.from_row(r, lease_token) for r in rows]

    async def now_us(self) -> int:
        return cast(int, await self._pool.fetchval(_sql(_NOW)))

    async def insert_omnimessages(
        self,
        items: Sequence[NewOmnimessage],
        expect: Mapping[int, int] | None = None,
        answers: Sequence[KeyAnswer] = (),
    ) -> set[int]:
        if not items:
            return set()
        if not answers:  # the common case: one statement, so one round trip
            async with self._accept_pool.acquire() as conn:
                stale = await messages.insert_in_one_statement(
                    _PgTx(conn), items, expect, NOTIFY_CHANNEL
                )
            if stale:
                kept = [o for o in items if o.account_id not in stale]
                if kept:
                    await self.insert_omnimessages(kept)
            return stale
        try:
            async with self.write() as tx:
                await messages.insert(tx, items)
                await idempotency.finish_in(tx, answers)
                # Delivered on commit, once per transaction: the earliest new due time. The same
                # statement checks the callers' account versions (see Store), so the check costs
                # no round trip of its own; a changed account (rare) rolls the batch back.
                due = str(min(o.due_us for o in items))
                if not expect:
                    await tx.execute(_NOTIFY, NOTIFY_CHANNEL, due)
                    return set()
                rows = await tx.fetch(
                    _NOTIFY_CHECKING,
                    NOTIFY_CHANNEL,
                    due,
                    *map(list, zip(*expect.items(), strict=True)),
                )
                stale = {int(a) for a in rows[0]["stale"]}
                if stale:
                    raise _StaleAccounts(stale)
                return set()
        except _StaleAccounts as exc:
            kept = [o for o in items if o.account_id not in exc.accounts]
            kept_answers = [a for a in answers if a.account_id not in exc.accounts]
            await self.insert_omnimessages(kept, None, kept_answers)
            return exc.accounts

    async def cancel_omnimessages(
        self, requests: Sequence[messages.CancelRequest]
    ) -> list[tuple[CancelResult, list[StatusChange]]]:
        # One statement for the whole group (and the webhooks' insert when a report URL is
        # set): BEGIN, it, COMMIT are three round trips where the shared script took eleven.
        async with self.write() as tx:
            return await messages.cancel_in_one_statement(tx, requests)

    async def wake_others(self, due_us: int) -> None:
        try:
            await self._pool.execute(_sql(_NOTIFY), NOTIFY_CHANNEL, str(due_us))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # The change itself committed; the others find it at their safety poll.
            log.warning("NOTIFY %s after a commit failed (%s)", NOTIFY_CHANNEL, exc)

    async def listen(self, callback: Callable[[int | None], None]) -> None:
        listener = _Listener(self._dsn, callback)
        self._listeners.append(listener)
        await listener.start()

    async def close(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            await listener.close()
        await self._pool.close()
        await self._accept_pool.close()
