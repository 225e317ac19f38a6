"""PostgreSQL adapter on asyncpg: a connection pool, the shared scripts, `SKIP LOCKED` claims.

Each write is one transaction on a pooled connection (READ COMMITTED; the scripts lock the rows
they change). Reads run on a pooled connection without an explicit transaction. Claims are a
single statement, so any number of processes can claim from the same table without ever getting
the same row. Inserts `NOTIFY tidings_due` in their transaction so that schedulers in other
processes wake up for an earlier due time; `listen()` is the receiving end.
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

from tidings.store import messages_sql
from tidings.store.base import Store
from tidings.store.errors import DatabaseUnreachable
from tidings.store.pg_bulk import BulkForm, bulk_form
from tidings.store.records import Claim, NewOmnimessage
from tidings.store.tx import Row, to_postgres

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "tidings_due"

# One sub-select per priority, each walking the partial index `timers_pending_due
# (priority, due_us) WHERE state = 'pending'` in due order. Append runs them lazily under the outer
# LIMIT, so lower priorities are read (and locked) only when the higher ones leave room. A row
# another claimer holds is skipped, and a row that stopped being pending before we could lock it
# is re-checked and dropped, so no row is ever claimed twice. (PostgreSQL refuses FOR UPDATE
# directly in a UNION branch, hence the derived tables.) The update finds the claimed rows through
# `= ANY(ARRAY(...))`, a primary-key probe each: a join `FROM c` lets the planner pick a hash join
# over a sequential scan of the whole table when many rows are pending. There is deliberately no
# index on due_us alone: the planner could prefer it for one branch and filter on priority.
_BRANCH = (
    "SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = {p}"
    " AND due_us <= $4 ORDER BY due_us LIMIT $5 FOR UPDATE SKIP LOCKED) p{p}"
)
_CLAIM = (
    "WITH c AS (" + " UNION ALL ".join(_BRANCH.format(p=p) for p in (2, 1, 0)) + " LIMIT $5)"
    " UPDATE timers t SET state = 'claimed', lease_owner = $1, lease_token = $2,"
    " lease_until_us = $3 WHERE t.id = ANY(ARRAY(SELECT id FROM c))"
    " RETURNING t.id, t.kind, t.ref, t.due_us, t.priority"
)
# pg_notify plus the ids of the expected (account id, version) pairs that no longer hold.
_NOTIFY_CHECKING = (
    "SELECT (SELECT coalesce(array_agg(e.id), '{}') FROM unnest($3::bigint[], $4::bigint[])"
    " AS e(id, version) LEFT JOIN accounts a ON a.id = e.id"
    " WHERE a.version IS DISTINCT FROM e.version), pg_notify($1, $2)"
)
_NOW = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"

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


class _BulkCache:
    """Per store: each executemany statement's set-based form and its parameter types."""

    def __init__(self) -> None:
        self._forms: dict[str, tuple[BulkForm, str] | None] = {}

    async def form(self, conn: Any, sql: str) -> tuple[BulkForm, str] | None:
        if sql in self._forms:
            return self._forms[sql]
        found: tuple[BulkForm, str] | None = None
        if (bulk := bulk_form(sql)) is not None:
            params = (await conn.prepare(sql)).get_parameters()
            if len(params) == bulk.n_params:
                found = (bulk, bulk.render([f"{t.schema}.{t.name}" for t in params]))
        self._forms[sql] = found
        return found


class _PgTx:
    __slots__ = ("_bulk", "_conn")

    def __init__(self, conn: Any, bulk: _BulkCache | None = None) -> None:
        self._conn = conn
        self._bulk = bulk

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        return cast(list[Row], await self._conn.fetch(to_postgres(sql), *args))

    async def execute(self, sql: str, *args: object) -> int:
        return _rowcount(cast(str, await self._conn.execute(to_postgres(sql), *args)))

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        sql = to_postgres(sql)
        if len(rows) > 1 and self._bulk is not None:
            found = await self._bulk.form(self._conn, sql)
            if found is not None and found[0].distinct(rows):
                # One statement for the whole batch (see pg_bulk): one array per parameter.
                await self._conn.execute(found[1], *(list(col) for col in zip(*rows, strict=True)))
                return
        await self._conn.executemany(sql, rows)


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
                    await self._conn.fetchval("SELECT 1", timeout=5)
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


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, pool: Any, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._listeners: list[_Listener] = []
        self._bulk = _BulkCache()

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 2, max_size: int = 20) -> PostgresStore:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            connect=_connect,
            server_settings={
                # Short OLTP statements: JIT compilation only ever adds latency here.
                "jit": "off",
                # asyncpg prepares every statement; after five runs PostgreSQL may switch to a
                # generic plan, chosen while the tables were small (a fresh database, before
                # autovacuum's first ANALYZE): a sequential scan with `= ANY($1)` as a filter,
                # which grows with the table. Seen: `_load` 20 ms -> 1.3 s within a minute at
                # 500 messages/s, firing lateness p99 220 ms. Planning each run costs ~0.1 ms.
                "plan_cache_mode": "force_custom_plan",
                "application_name": "tidings",
            },
        )
        return cls(pool, dsn)

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[_PgTx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgTx(conn, self._bulk)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[_PgTx]:
        async with self._pool.acquire() as conn:
            yield _PgTx(conn)

    async def claim_due(
        self, owner: str, lease_token: int, horizon_us: int, limit: int, lease_until_us: int
    ) -> list[Claim]:
        rows = await self._pool.fetch(_CLAIM, owner, lease_token, lease_until_us, horizon_us, limit)
        return [Claim(r[0], r[1], r[2], r[3], r[4], lease_token) for r in rows]

    async def now_us(self) -> int:
        return cast(int, await self._pool.fetchval(_NOW))

    async def insert_omnimessages(
        self, items: Sequence[NewOmnimessage], expect: Mapping[int, int] | None = None
    ) -> set[int]:
        if not items:
            return set()
        try:
            async with self.write() as tx:
                await messages_sql.insert_omnimessages(tx, items)
                # Delivered on commit, once per transaction: the earliest new due time. The same
                # statement checks the callers' account versions (see Store), so the check costs
                # no round trip of its own; a changed account (rare) rolls the batch back.
                due = str(min(o.due_us for o in items))
                if not expect:
                    await tx.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, due)
                    return set()
                rows = await tx.fetch(
                    _NOTIFY_CHECKING,
                    NOTIFY_CHANNEL,
                    due,
                    *map(list, zip(*expect.items(), strict=True)),
                )
                stale = {int(a) for a in rows[0][0]}
                if stale:
                    raise _StaleAccounts(stale)
                return set()
        except _StaleAccounts as exc:
            kept = [o for o in items if o.account_id not in exc.accounts]
            await self.insert_omnimessages(kept)
            return exc.accounts

    async def listen(self, callback: Callable[[int | None], None]) -> None:
        listener = _Listener(self._dsn, callback)
        self._listeners.append(listener)
        await listener.start()

    async def close(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            await listener.close()
        await self._pool.close()
