"""Worker processes and database checks for multi-process tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from tests.e2e.server import TIDINGS, Server
from tidings.store.postgres import NOTIFY_CHANNEL
from tidings.store.urls import parse_database_url


class Worker:
    def __init__(self, workdir: Path, database: str, env: dict[str, str], name: str) -> None:
        self.log_path = workdir / f"worker-{name}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [*TIDINGS, "worker", "--database", database],
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **env},
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def log(self) -> str:
        return self.log_path.read_text()


def pg_query(url: str, sql: str, *args: Any) -> list[Any]:
    async def go() -> list[Any]:
        conn = await asyncpg.connect(parse_database_url(url).asyncpg_dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(go())


def db_query(url: str, sql: str, *args: Any) -> list[Any]:
    """Run a read query on either backend (SQL in PostgreSQL style, `$n` parameters)."""
    db = parse_database_url(url)
    if db.kind == "postgresql":
        return pg_query(url, sql, *args)
    import sqlite3

    from tidings.store.tx import to_sqlite

    conn = sqlite3.connect(str(db.sqlite_path))
    try:
        return conn.execute(to_sqlite(sql), args).fetchall()
    finally:
        conn.close()


async def bulk_schedule(server: Server, n: int, at: datetime, to: str) -> list[str]:
    """Schedule `n` one-channel SMS for `at` through the bulk API; their omnimessage ids."""
    async with httpx.AsyncClient(base_url=server.url, auth=server.auth, timeout=60) as c:
        sem = asyncio.Semaphore(4)

        async def chunk(start: int) -> list[str]:
            body = {
                "messages": [
                    {
                        "to": to,
                        "time_to_send": at.isoformat(),
                        "messages": [{"channel": "sms", "text": f"burst {i}"}],
                    }
                    for i in range(start, min(n, start + 1000))
                ]
            }
            async with sem:
                r = await c.post("/v1/omnimessages", json=body)
            assert r.status_code == 201, r.text
            return [m["omnimessage_id"] for m in r.json()["messages"]]

        parts = await asyncio.gather(*(chunk(s) for s in range(0, n, 1000)))
    return [i for p in parts for i in p]


def due_in(db: str, seconds: float, spread_s: float = 0.0) -> datetime:
    """Move every waiting message to `seconds` from now, in one statement. Scheduling far ahead
    and then moving the due time makes the instant follow from when the set-up actually
    finished, however long inserting took on this machine. Every process is told at once, as
    an insert through the API would tell it (one NOTIFY with the earliest due time), so each
    leases its share ahead of the instant.

    With `spread_s`, the messages fall due over that many seconds after the instant instead, in
    slices of 0.1 s picked by a hash of the id (the same in both tables)."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    due = int(at.timestamp() * 1_000_000)
    slices = max(1, round(spread_s * 10))
    offset = f"(abs(hashtext({{col}})) % {slices}) * 100000"
    pg_query(
        db,
        f"UPDATE omnimessages SET due_us = $1::bigint + {offset.format(col='id')},"
        f" time_to_send_us = $1::bigint + {offset.format(col='id')} WHERE state = 'scheduled'",
        due,
    )
    pg_query(
        db,
        f"UPDATE timers SET due_us = $1::bigint + {offset.format(col='ref')}"
        " WHERE state = 'pending' AND kind = 'send'",
        due,
    )
    pg_query(db, "SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(due))
    return at
