"""No statement walks a whole large table on SQLite.

SQLite's planner has no statistics here (the store never runs ANALYZE), so its choice follows the
statement's shape alone, and the same choice is made on an empty file as on one holding a million
messages: checking every named statement's plan on a freshly migrated file is a check of the
plans it runs in production. One such walk (`ORDER BY id` served by scanning all timers in rowid
order) cost 235 ms per recovery pass on the writer thread with 1 000 000 scheduled messages.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tidings.store.factory import open_store
from tidings.store.queries import load
from tidings.store.urls import parse_database_url

# Tables that grow with the traffic; a plan line `SCAN <table>` without an index walks all of it.
LARGE = (
    "timers",
    "omnimessages",
    "channel_messages",
    "message_events",
    "sandbox_messages",
    "webhooks",
    "inbound_messages",
    "blacklist_events",
    "idempotency_keys",
)
FULL_SCAN = re.compile(rf"^SCAN ({'|'.join(LARGE)})$")


@pytest.fixture
async def migrated(tmp_path: Path) -> Path:
    path = tmp_path / "plans.db"
    store = await open_store(parse_database_url(f"sqlite:///{path}"))
    await store.close()
    return path


def _plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    n = max((int(p) for p in re.findall(r"\?(\d+)", sql)), default=0)
    return [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, [None] * n)]


def test_the_check_sees_a_full_walk(migrated: Path) -> None:
    """The pattern catches the shape it exists for (the form the lease reads used to have)."""
    conn = sqlite3.connect(migrated)
    plan = _plan(
        conn,
        "SELECT id FROM timers WHERE state = 'claimed' AND lease_until_us < ?1 "
        "ORDER BY id LIMIT ?2",
    )
    assert any(FULL_SCAN.match(line) for line in plan), plan


def test_no_statement_walks_a_large_table(migrated: Path) -> None:
    conn = sqlite3.connect(migrated)
    walks = {}
    for name, q in sorted(load().items()):
        if q.sqlite is None:
            continue
        bad = [line for line in _plan(conn, q.sqlite) if FULL_SCAN.match(line)]
        if bad:
            walks[name] = bad
    assert walks == {}
