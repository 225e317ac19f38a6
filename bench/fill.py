"""Fill a migrated, not yet served database with pending scheduled messages, fast.

The rows are exactly those `store/messages.py insert` writes for an accepted (ids in time order,
core/ids.py),
request (the channel content is produced by the server's own validation of the benchmark body):
one `omnimessages` row (state `scheduled`), one `channel_messages` row per channel (state
`pending`), one `timers` row (kind `send`, state `pending`). SQLite: `executemany` in large
transactions with `synchronous=OFF`, then a synced WAL checkpoint. PostgreSQL: COPY
(`copy_records_to_table`), then ANALYZE (autovacuum would do it soon after a real bulk load).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from bench import bodies
from bench.harness import Database, log, now_us, r3
from tidings.core.ids import new_id

CHUNK = 50_000
DAY_US = 86_400_000_000

OMNI_COLS = (
    "id",
    "account_id",
    "to_number",
    "state",
    "priority",
    "time_to_send_us",
    "due_us",
    "dlr_url",
    "text_store",
    "position",
    "created_us",
    "updated_us",
    "batch",
)
CHAN_COLS = (
    "id",
    "omnimessage_id",
    "position",
    "channel",
    "sender",
    "validity_s",
    "content",
    "state",
)
TIMER_COLS = ("kind", "ref", "due_us", "priority", "state")


@dataclass(frozen=True)
class _Channel:
    channel: str
    sender: str
    validity_s: int
    content: str


def _channels() -> tuple[_Channel, ...]:
    """The channel rows the server would store for the benchmark body (its own validation)."""
    from tidings.core.model import Limits
    from tidings.core.validation import validate_omnimessage

    req = validate_omnimessage(bodies.sms_viber(0, None), now=datetime.now(UTC), limits=Limits())
    return tuple(
        _Channel(m.channel, m.sender or "Tidings", m.validity_s, orjson.dumps(m.content).decode())
        for m in req.messages
    )


Chunk = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _chunks(account_id: int, n: int, batch: str | None, seed: int = 7) -> Iterator[Chunk]:
    """Rows scheduled uniformly between 1 and 2 days ahead, priority regular (1)."""
    rng = random.Random(seed)
    chans = _channels()
    created = now_us()
    for start in range(0, n, CHUNK):
        omnis, chan_rows, timers = [], [], []
        for i in range(start, min(n, start + CHUNK)):
            oid = new_id()
            due = created + DAY_US + rng.randrange(DAY_US)
            omnis.append(
                (
                    oid,
                    account_id,
                    bodies.phone(i),
                    "scheduled",
                    1,
                    due,
                    due,
                    None,
                    "plaintext",
                    0,
                    created,
                    created,
                    batch,
                )
            )
            for pos, c in enumerate(chans):
                chan_rows.append(
                    (
                        new_id(),
                        oid,
                        pos,
                        c.channel,
                        c.sender,
                        c.validity_s,
                        c.content,
                        "pending",
                    )
                )
            timers.append(("send", oid, due, 1, "pending"))
        yield omnis, chan_rows, timers


def _insert_sql(table: str, cols: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in cols)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"


def _fill_sqlite(db: Database, account_id: int, n: int, batch: str | None) -> int:
    assert db.sqlite_path is not None
    conn = sqlite3.connect(db.sqlite_path, isolation_level=None)
    rows = 0
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        for omnis, chan_rows, timers in _chunks(account_id, n, batch):
            conn.execute("BEGIN")
            conn.executemany(_insert_sql("omnimessages", OMNI_COLS), omnis)
            conn.executemany(_insert_sql("channel_messages", CHAN_COLS), chan_rows)
            conn.executemany(_insert_sql("timers", TIMER_COLS), timers)
            conn.execute("COMMIT")
            rows += len(omnis) + len(chan_rows) + len(timers)
        # Make the file durable before the server opens it, as a server that accepted these
        # rows over time would have: with synchronous=OFF the fill's pages may still be dirty in
        # the OS cache, and the server's first checkpoint fsync would have to flush them all.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return rows


async def _fill_postgres(db: Database, account_id: int, n: int, batch: str | None) -> int:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(db.url, timeout=10)
    rows = 0
    try:
        for omnis, chan_rows, timers in _chunks(account_id, n, batch):
            await conn.copy_records_to_table("omnimessages", records=omnis, columns=OMNI_COLS)
            await conn.copy_records_to_table(
                "channel_messages", records=chan_rows, columns=CHAN_COLS
            )
            await conn.copy_records_to_table("timers", records=timers, columns=TIMER_COLS)
            rows += len(omnis) + len(chan_rows) + len(timers)
        # Settle the database as one that took these rows over time would be: autovacuum has
        # set the visibility map and the statistics, and a checkpoint has written the pages
        # out. Left to run during the measurement, either costs a timed request seconds.
        await conn.execute("VACUUM (ANALYZE) omnimessages, channel_messages, timers")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return rows


async def fill(db: Database, account_id: int, n: int, batch: str | None = None) -> dict[str, Any]:
    """Write `n` pending messages (each tagged `batch`, as a send naming one would be)."""
    log(f"filling {n} pending messages into {db.backend}")
    t = time.perf_counter()
    if db.backend == "sqlite":
        rows = await asyncio.to_thread(_fill_sqlite, db, account_id, n, batch)
    else:
        rows = await _fill_postgres(db, account_id, n, batch)
    elapsed = time.perf_counter() - t
    log(f"filled {rows} rows in {elapsed:.1f} s")
    return {
        "omnimessages": n,
        "rows": rows,
        "seconds": r3(elapsed),
        "rows_per_s": r3(rows / elapsed) if elapsed else None,
    }
