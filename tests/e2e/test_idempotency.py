"""Idempotency-Key over real server processes (a Tidings extension; plain HTTP).

- a repeat gets the first answer without acting; another request under the same key is a 422;
  bad keys are 400s; requests without the header store nothing about keys;
- a POST whose client timed out (the server held up by a SQLite write lock the test holds),
  retried with its key, creates one message;
- a repeat while the first request is still in flight waits for its answer, or gets a 409 after
  the server's wait limit;
- two `tidings serve` processes on one PostgreSQL database: a repeat sent to the other process
  gets the first answer; concurrent first requests with one key, one to each process, store one
  message; a retry after a client-side timeout, sent to the other process, creates one message.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from tests.e2e.conftest import _running_server
from tests.e2e.processes import db_query
from tests.e2e.server import Server
from tests.waiting import wait_until
from tidings.store.urls import parse_database_url

KEY = "Idempotency-Key"


AT = (datetime.now(UTC) + timedelta(hours=2)).isoformat()  # one body, however often built


def _sms(to: str, text: str = "hello") -> dict[str, Any]:
    return {
        "to": to,
        "time_to_send": AT,
        "messages": [{"channel": "sms", "text": text}],
    }


def _count(server: Server, to: str) -> int:
    return int(
        db_query(server.database, "SELECT count(*) FROM omnimessages WHERE to_number = $1", to)[0][
            0
        ]
    )


def _key_state(server: Server, key: str) -> str | None:
    rows = db_query(server.database, "SELECT state FROM idempotency_keys WHERE key = $1", key)
    return str(rows[0][0]) if rows else None


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    (item,) = r.json()["errors"]
    assert item["source"] == KEY and item["code"] == "105", item
    return dict(item)


def test_a_repeat_gets_the_first_answer_and_acts_once(server: Server) -> None:
    to = "+37251991001"
    body = _sms(to)
    with server.client() as c:
        first = c.post("/v1/omnimessage", json=body, headers={KEY: "send-1"})
        assert first.status_code == 201, first.text
        assert "idempotent-replayed" not in first.headers
        # The same request, its JSON written differently (key order, spacing): the same answer.
        again = c.post(
            "/v1/omnimessage",
            content=json.dumps(dict(reversed(list(body.items()))), indent=2).encode(),
            headers={KEY: "send-1", "Content-Type": "application/json"},
        )
        assert again.status_code == 201, again.text
        assert again.content == first.content
        assert again.headers["content-type"] == first.headers["content-type"]
        assert again.headers["idempotent-replayed"] == "true"
        assert _count(server, to) == 1

        # The same key with another body, path or method: 422, nothing done.
        _error(c.post("/v1/omnimessage", json=_sms(to, "other"), headers={KEY: "send-1"}), 422)
        bulk_of_it = {"messages": [body]}
        _error(c.post("/v1/omnimessages", json=bulk_of_it, headers={KEY: "send-1"}), 422)
        assert _count(server, to) == 1

        # Keys are per account: bob's "send-1" is his own.
        with httpx.Client(base_url=server.url, auth=("bob", "bob-secret-pw"), timeout=10) as b:
            r = b.post("/v1/omnimessage", json=_sms(to), headers={KEY: "send-1"})
            assert r.status_code == 201 and r.content != first.content
        assert _count(server, to) == 2

        # A refused request is an answer too: kept and replayed, never acted on.
        bad = c.post("/v1/omnimessage", json={"to": to}, headers={KEY: "bad-body"})
        assert bad.status_code == 400
        assert (
            c.post("/v1/omnimessage", json={"to": to}, headers={KEY: "bad-body"}).content
            == bad.content
        )

        # Cancel: the DELETE's answer is kept too; another message's path under its key is a 422.
        omni_id = first.json()["omnimessage_id"]
        d1 = c.delete(f"/v1/omnimessage/{omni_id}", headers={KEY: "cancel-1"})
        d2 = c.delete(f"/v1/omnimessage/{omni_id}", headers={KEY: "cancel-1"})
        assert (d1.status_code, d2.status_code) == (202, 202)
        assert d2.headers["idempotent-replayed"] == "true"
        _error(c.delete(f"/v1/omnimessage/{uuid.uuid4()}", headers={KEY: "cancel-1"}), 422)

        # Bulk: replayed whole, one set of messages.
        bulk = {"messages": [_sms("+37251991002"), {"to": "nope"}, _sms("+37251991002")]}
        b1 = c.post("/v1/omnimessages", json=bulk, headers={KEY: "bulk-1"})
        b2 = c.post("/v1/omnimessages", json=bulk, headers={KEY: "bulk-1"})
        assert b1.status_code == b2.status_code == 201 and b1.content == b2.content
        assert _count(server, "+37251991002") == 2


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b"", "must not be empty"),
        (b"k" * 256, "at most 255"),
        (b"tab\there", "printable ASCII"),
        (b"caf\xe9", "printable ASCII"),
    ],
)
def test_bad_keys_are_400(shared_server: Server, value: bytes, says: str) -> None:
    to = "+37251991003"
    with shared_server.client() as c:
        r = c.post("/v1/omnimessage", json=_sms(to), headers=[(KEY.encode(), value)])
        assert says in _error(r, 400)["detail"]
        r = c.delete(f"/v1/omnimessage/{uuid.uuid4()}", headers=[(KEY.encode(), value)])
        _error(r, 400)
        two = c.post("/v1/omnimessage", json=_sms(to), headers=[(KEY, "a"), (KEY, "b")])
        _error(two, 400)
    assert _count(shared_server, to) == 0


def test_unauthenticated_and_server_errors_are_not_kept(server: Server) -> None:
    to = "+37251991004"
    with httpx.Client(base_url=server.url, auth=("alice", "wrong-password"), timeout=10) as c:
        assert c.post("/v1/omnimessage", json=_sms(to), headers={KEY: "k401"}).status_code == 401
    assert _key_state(server, "k401") is None
    with server.client() as c:
        r = c.post("/v1/omnimessage", json=_sms(to), headers={KEY: "k401"})
        assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    # Without the header, nothing about keys is written (the official clients' path).
    with server.client() as c:
        assert c.post("/v1/omnimessage", json=_sms(to)).status_code == 201
    assert db_query(server.database, "SELECT count(*) FROM idempotency_keys")[0][0] == 1


@contextmanager
def _sqlite_write_lock(server: Server) -> Iterator[sqlite3.Connection]:
    """Hold the database's write lock (another process's transaction): the server's writes
    wait (its busy timeout is 10 s), its reads go on (WAL)."""
    path = parse_database_url(server.database).sqlite_path
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_retry_after_a_client_timeout_creates_one_message(server: Server) -> None:
    to = "+37251991005"
    body = _sms(to)
    with server.client() as c:
        with _sqlite_write_lock(server):
            with pytest.raises(httpx.ReadTimeout):
                c.post("/v1/omnimessage", json=body, headers={KEY: "timeout-1"}, timeout=1.0)
            # The client gave up; the server still holds the request (waiting to write).
            assert _count(server, to) == 0
        retry = c.post("/v1/omnimessage", json=body, headers={KEY: "timeout-1"}, timeout=30)
        assert retry.status_code == 201, retry.text
    wait_until(lambda: _key_state(server, "timeout-1") == "done", "the key answered", 10)
    assert _count(server, to) == 1
    (stored,) = db_query(server.database, "SELECT id FROM omnimessages WHERE to_number = $1", to)
    assert retry.json()["omnimessage_id"] == stored[0]


@pytest.fixture
def quick_wait_server(tmp_path: Path) -> Iterator[Server]:
    """A server whose in-flight repeats wait at most 1.5 s for the first answer."""
    yield from _running_server(
        tmp_path,
        f"sqlite:///{tmp_path / 'tidings.db'}",
        env={"TIDINGS_IDEMPOTENCY_WAIT_SECONDS": "1.5"},
    )


def _slow_bulk(to: str) -> dict[str, Any]:
    """The largest bulk request, each item with three channels: long enough to validate that
    the test can take the write lock between the key's claim and the messages' insert."""
    item = _sms(to, "x" * 300)
    item["messages"] = [
        {"channel": "viber", "text": "x" * 300},
        {"channel": "whatsapp", "text": {"body": "x" * 300}},
        {"channel": "sms", "text": "x" * 300},
    ]
    return {"messages": [item] * 1000}


def _caught_in_flight(
    server: Server, to: str, attempts: int = 8
) -> tuple[str, Any, dict[str, Any]]:
    """Send a slow bulk request with a fresh key until the test holds the write lock while
    that request's key is claimed and its messages are not yet stored (the key still pending
    under the lock). Returns the key, the first request's future, and the held lock."""
    pool = ThreadPoolExecutor(1)
    body = _slow_bulk(to)
    for attempt in range(attempts):
        key = f"inflight-{attempt}"

        def send(key: str = key) -> httpx.Response:
            with server.client() as c:
                return c.post("/v1/omnimessages", json=body, headers={KEY: key}, timeout=60)

        first = pool.submit(send)
        path = parse_database_url(server.database).sqlite_path
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not first.done():
            row = conn.execute(
                "SELECT state FROM idempotency_keys WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                break
            time.sleep(0.001)
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT state FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
        if row is not None and row[0] == "pending":
            return key, first, {"conn": conn, "pool": pool, "body": body}
        conn.execute("ROLLBACK")
        conn.close()
        first.result(60)
    pool.shutdown()
    raise AssertionError(
        f"never caught a request between its claim and its insert ({attempts} tries)"
    )


def test_a_repeat_in_flight_waits_for_the_first_answer_or_gets_409(
    quick_wait_server: Server,
) -> None:
    server = quick_wait_server
    to = "+37251991006"
    key, first, held = _caught_in_flight(server, to)
    conn, body = held["conn"], held["body"]
    before = _count(server, to)
    with server.client() as c:
        # Held longer than the server's 1.5 s wait: a 409, nothing done.
        started = time.monotonic()
        r = c.post("/v1/omnimessages", json=body, headers={KEY: key}, timeout=30)
        waited = time.monotonic() - started
        item = _error(r, 409)
        assert "still in progress" in item["detail"] and r.headers["retry-after"] == "1"
        assert waited >= 1.4, waited
        # Another repeat, and the lock let go while it waits: it gets the first answer.
        pool = ThreadPoolExecutor(1)
        repeat = pool.submit(
            lambda: c.post("/v1/omnimessages", json=body, headers={KEY: key}, timeout=30)
        )
        time.sleep(0.5)
        assert not repeat.done()
        conn.execute("ROLLBACK")
        conn.close()
        answer = first.result(30)
        again = repeat.result(30)
    assert answer.status_code == 201, answer.text
    assert again.status_code == 201 and again.content == answer.content
    assert again.headers["idempotent-replayed"] == "true"
    assert _count(server, to) == before + 1000
    held["pool"].shutdown()
    pool.shutdown()


# -- two processes on one PostgreSQL database ----------------------------------------------------


@pytest.fixture
def two_pg_servers(tmp_path: Path, pg_database: str) -> Iterator[tuple[Server, Server]]:
    servers = _running_server(tmp_path, pg_database)
    one = next(servers)
    two = Server(tmp_path, pg_database)
    two.start()
    try:
        yield one, two
    finally:
        if two.proc is not None:
            two.stop(signal.SIGKILL)
        for _ in servers:  # stops `one`
            pass


class _PgTableLock:
    """`LOCK TABLE omnimessages IN EXCLUSIVE MODE` held by the test (on a thread of its own):
    inserts wait, reads and the key's claim (another table) go on."""

    def __init__(self, database: str) -> None:
        self._dsn = parse_database_url(database).asyncpg_dsn
        self._locked = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)

    async def _hold(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE omnimessages IN EXCLUSIVE MODE")
                self._locked.set()
                await asyncio.to_thread(self._release.wait, 30)
        finally:
            await conn.close()

    def __enter__(self) -> _PgTableLock:
        self._thread.start()
        assert self._locked.wait(10)
        return self

    def release(self) -> None:
        self._release.set()
        self._thread.join(10)

    def __exit__(self, *exc: object) -> None:
        self.release()


@pytest.mark.postgres
def test_two_processes_share_keys(two_pg_servers: tuple[Server, Server]) -> None:
    one, two = two_pg_servers
    to = "+37251991007"
    body = _sms(to)
    with one.client() as a, two.client() as b:
        first = a.post("/v1/omnimessage", json=body, headers={KEY: "pg-1"})
        assert first.status_code == 201
        again = b.post("/v1/omnimessage", json=body, headers={KEY: "pg-1"})
        assert again.status_code == 201 and again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        _error(b.post("/v1/omnimessage", json=_sms(to, "other"), headers={KEY: "pg-1"}), 422)
    assert _count(one, to) == 1

    # Concurrent first requests, one to each process, 20 keys: one message per key.
    to = "+37251991008"
    keys = [f"race-{i}" for i in range(20)]

    bodies = {key: _sms(to, key) for key in keys}

    def send(server: Server, key: str) -> httpx.Response:
        with server.client() as c:
            return c.post("/v1/omnimessage", json=bodies[key], headers={KEY: key}, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        futures = [(pool.submit(send, one, k), pool.submit(send, two, k)) for k in keys]
        pairs = [(f1.result(), f2.result()) for f1, f2 in futures]
    for r1, r2 in pairs:
        assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
        assert r1.content == r2.content
        assert (r1.headers.get("idempotent-replayed"), r2.headers.get("idempotent-replayed")) in (
            (None, "true"),
            ("true", None),
        )
    assert _count(one, to) == len(keys)


@pytest.mark.postgres
def test_two_processes_retry_after_a_client_timeout_creates_one_message(
    two_pg_servers: tuple[Server, Server],
) -> None:
    one, two = two_pg_servers
    to = "+37251991009"
    body = _sms(to)
    with one.client() as a, two.client() as b:
        with _PgTableLock(one.database) as lock:
            with pytest.raises(httpx.ReadTimeout):
                a.post("/v1/omnimessage", json=body, headers={KEY: "pg-timeout"}, timeout=1.0)
            assert _key_state(one, "pg-timeout") == "pending"  # claimed; the insert waits
            pool = ThreadPoolExecutor(1)
            retry = pool.submit(
                lambda: b.post(
                    "/v1/omnimessage", json=body, headers={KEY: "pg-timeout"}, timeout=30
                )
            )
            time.sleep(0.5)
            assert not retry.done()  # the other process waits for the first answer
            lock.release()
            r = retry.result(30)
            pool.shutdown()
        assert r.status_code == 201, r.text
        assert r.headers["idempotent-replayed"] == "true"
    assert _count(one, to) == 1
    (stored,) = db_query(one.database, "SELECT id FROM omnimessages WHERE to_number = $1", to)
    assert r.json()["omnimessage_id"] == stored[0]
