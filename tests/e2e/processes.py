"""Worker processes and database checks for multi-process tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from tests.e2e.server import TIDINGS
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
