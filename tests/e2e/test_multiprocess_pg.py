"""Many processes on one PostgreSQL: each message handed to a connector exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.processes import Worker, bulk_schedule, due_in, pg_query
from tests.e2e.server import Server, free_port, run_cli
from tests.waiting import settle, wait_until

pytestmark = pytest.mark.postgres

FAST_ENV = {"TIDINGS_LEASE_SECONDS": "2", "TIDINGS_SAFETY_POLL_SECONDS": "0.5"}


@pytest.fixture
def pg_server(tmp_path: Path, pg_database: str) -> Iterator[Server]:
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=pg_database)
    srv = Server(tmp_path, pg_database, env=dict(FAST_ENV))
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


def _owner(worker: Worker) -> str:
    """The lease owner a worker announced in its log."""
    m = wait_until(
        lambda: re.search(r"action=worker_start owner=(\S+)", worker.log()), "the worker", 20
    )
    return m.group(1)


def _worker_holding_work(db: str, workers: list[Worker], within_s: float) -> Worker:
    owners = {_owner(w): w for w in workers}
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for (owner,) in pg_query(
            db, "SELECT DISTINCT lease_owner FROM timers WHERE state = 'claimed'"
        ):
            if owner in owners:
                return owners[owner]
        time.sleep(0.005)
    raise AssertionError("no worker ever held leased work")


def _wait_settled(db: str, n: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = pg_query(db, "SELECT count(*) FROM timers WHERE kind = 'send'")[0][0]
        delivered = pg_query(db, "SELECT count(*) FROM sandbox_messages")[0][0]
        if left == 0 and delivered >= n:
            return True
        time.sleep(0.25)
    return False


def _activity(db: str) -> str:
    """What this database's sessions are doing (for a failure message: who waits on what)."""
    rows = pg_query(
        db,
        "SELECT pid, state, wait_event_type, wait_event, pg_blocking_pids(pid),"
        " now() - xact_start, left(query, 160) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return "\n".join(" | ".join(str(v) for v in r) for r in rows)


def test_four_processes_share_a_burst_exactly_once(pg_server: Server, tmp_path: Path) -> None:
    workers = [Worker(tmp_path, pg_server.database, FAST_ENV, str(i)) for i in range(3)]
    try:
        n = 20_000
        ids = asyncio.run(
            bulk_schedule(pg_server, n, datetime.now(UTC) + timedelta(hours=1), "+37251230100")
        )
        assert len(set(ids)) == n
        due_in(pg_server.database, 1.0)
        settled = _wait_settled(pg_server.database, n, 60)
        stalled = "" if settled else _activity(pg_server.database)
        rows = pg_query(
            pg_server.database,
            "SELECT count(*), coalesce(sum(handovers), 0), coalesce(max(handovers), 0)"
            " FROM sandbox_messages",
        )[0]
        assert rows[0] == n, f"{rows[0]} of {n} delivered; sessions:\n{stalled}"
        assert rows[1] == n and rows[2] == 1, "a message was handed over twice"
        assert (
            pg_query(pg_server.database, "SELECT count(*) FROM timers WHERE kind = 'send'")[0][0]
            == 0
        )
        early = pg_query(
            pg_server.database,
            "SELECT count(*) FROM channel_messages c JOIN omnimessages o ON o.id = c.omnimessage_id"
            " WHERE c.sent_us < o.time_to_send_us",
        )[0][0]
        assert early == 0, "fired before time_to_send"
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        settle(lambda: all(w.proc.poll() is not None for w in workers), 30)
        # A worker that does not stop: what its database sessions wait on, for the failure.
        stuck = _activity(pg_server.database) if any(w.proc.poll() is None for w in workers) else ""
        codes = [w.stop(signal.SIGKILL) for w in workers]  # -9: it did not stop in time
    assert codes == [0, 0, 0], (stuck, [w.log()[-3000:] for w in workers])


def test_kill_9_worker_mid_burst_loses_nothing(pg_server: Server, tmp_path: Path) -> None:
    workers = [Worker(tmp_path, pg_server.database, FAST_ENV, str(i)) for i in range(2)]
    try:
        n = 10_000
        asyncio.run(
            bulk_schedule(pg_server, n, datetime.now(UTC) + timedelta(hours=1), "+37251230200")
        )
        due_in(pg_server.database, 1.0)
        # Kill a worker while it holds leased work (which process claims what is a race: wait
        # until one of the workers holds some, then kill that one).
        victim = _worker_holding_work(pg_server.database, workers, within_s=30)
        victim.stop(signal.SIGKILL)
        survivor = workers[1] if victim is workers[0] else workers[0]
        _wait_settled(pg_server.database, n, 60)
        # The dead worker's delivery reports died with it: the sandbox's catch-up (every 5 s)
        # reports what its inbox shows delivered, from the surviving processes.
        deadline = time.monotonic() + 20
        while True:
            states = dict(
                pg_query(
                    pg_server.database,
                    "SELECT state, count(*) FROM channel_messages GROUP BY state",
                )
            )
            if not {"pending", "sending", "sent"} & set(states) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        delivered = pg_query(
            pg_server.database,
            "SELECT count(*), coalesce(max(handovers), 0) FROM sandbox_messages",
        )[0]
        unknown = states.get("unknown", 0)
        assert states.get("pending", 0) == 0 and states.get("sending", 0) == 0, states
        assert delivered[0] + unknown >= n, (delivered, states)
        assert delivered[1] == 1, "a message was handed over twice"
        assert states.get("delivered", 0) + unknown == n, states
        assert (
            pg_query(pg_server.database, "SELECT count(*) FROM timers WHERE state = 'claimed'")[0][
                0
            ]
            == 0
        )
        logs = pg_server.log() + survivor.log()
        assert "leases_recovered" in logs or "unknown_recovered" in logs, "the kill hit nothing"
    finally:
        for w in workers:
            if w.proc is not None:
                w.stop()


def test_lost_notification_costs_at_most_the_safety_poll(tmp_path: Path, pg_database: str) -> None:
    """A row made due without NOTIFY (as if the notification were lost) still fires, never
    early and at most a safety poll late."""
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=pg_database)
    env = {"TIDINGS_SAFETY_POLL_SECONDS": "1.0", "TIDINGS_LEASE_SECONDS": "5"}
    srv = Server(tmp_path, pg_database, env=env)
    srv.start()
    worker = Worker(tmp_path, pg_database, env, "solo")
    try:
        with srv.client() as c:
            at = datetime.now(UTC) + timedelta(hours=1)  # nobody claims it meanwhile
            r = c.post(
                "/v1/omnimessage",
                json={
                    "to": "+37251230300",
                    "time_to_send": at.isoformat(),
                    "messages": [{"channel": "sms", "text": "quiet"}],
                },
            )
            assert r.status_code == 201
            omni = r.json()["omnimessage_id"]
        # Put it due soon without a NOTIFY, once every process sleeps on its safety poll.
        time.sleep(1.5)
        due = int((time.time() + 0.2) * 1_000_000)
        pg_query(
            pg_database,
            "UPDATE timers SET due_us = $2, state = 'pending' WHERE ref = $1",
            omni,
            due,
        )
        sent: int = wait_until(
            lambda: pg_query(
                pg_database, "SELECT sent_us FROM channel_messages WHERE omnimessage_id = $1", omni
            )[0][0],
            "the message to fire",
            5,
        )
        late_s = (sent - due) / 1_000_000
        assert 0 <= late_s <= 1.0 + 0.3, late_s
    finally:
        worker.stop()
        srv.stop()


def test_serve_processes_share_one_port(tmp_path: Path, pg_database: str) -> None:
    """`serve --reuse-port`: a second process binds the port the first holds, both answer on
    it, and when one stops the other goes on alone. Without the flag the second cannot start."""
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=pg_database)
    port = free_port()
    first = Server(tmp_path, pg_database, port=port, env=dict(FAST_ENV), args=("--reuse-port",))
    second = Server(tmp_path, pg_database, port=port, env=dict(FAST_ENV), args=("--reuse-port",))
    plain = Server(tmp_path, pg_database, port=port, env=dict(FAST_ENV))
    first.start()
    try:
        # (Its health check is answered by the first process, so wait for its own exit.)
        with contextlib.suppress(RuntimeError):
            plain.start()
        assert plain.proc is not None and plain.proc.wait(20) != 0
        assert "address already in use" in plain.log().lower(), plain.log()
        plain.proc = None
        second.start()
        body = {"to": "+37251230301", "messages": [{"channel": "sms", "text": "hi"}]}
        ids = []
        for _ in range(40):  # a new connection each: the kernel spreads them over both
            with first.client() as c:
                r = c.post("/v1/omnimessage", json=body)
                assert r.status_code == 201, r.text
                ids.append(r.json()["omnimessage_id"])
        assert first.stop() == 0
        with second.client() as c:
            r = c.post("/v1/omnimessage", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["omnimessage_id"])
        wait_until(
            lambda: (
                pg_query(pg_database, "SELECT count(*) FROM sandbox_messages")[0][0] >= len(ids)
            ),
            "every message delivered",
            30,
        )
    finally:
        for srv in (first, second, plain):
            if srv.proc is not None:
                srv.stop(signal.SIGKILL)
