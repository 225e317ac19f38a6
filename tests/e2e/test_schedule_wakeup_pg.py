"""A due time moved earlier wakes the dispatchers of other processes (PostgreSQL NOTIFY), as an
insert does: a serve process and a `tidings worker`, both on a 30 s safety poll, so that only
the notification can make the worker fire in time. The server is stopped (SIGSTOP) right after
answering, before its own dispatcher's claim of the message would come (a look-ahead before the
new due time, 1 s away): the worker must claim it (its lease shows it) and send it on time."""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.processes import Worker, pg_query
from tests.e2e.server import Server, run_cli
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres

SLOW_POLL_ENV = {"TIDINGS_SAFETY_POLL_SECONDS": "30", "TIDINGS_LEASE_SECONDS": "5"}
LATE_S = 1.0  # at most this late: the notification, not the 30 s safety poll, woke the worker


@pytest.fixture
def server_and_worker(tmp_path: Path, pg_database: str) -> Iterator[tuple[Server, str]]:
    """A running server and worker; the worker's lease owner."""
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=pg_database)
    srv = Server(tmp_path, pg_database, env=dict(SLOW_POLL_ENV))
    srv.start()
    worker = Worker(tmp_path, pg_database, SLOW_POLL_ENV, "solo")
    try:
        m = wait_until(
            lambda: re.search(r"action=worker_start owner=(\S+)", worker.log()), "the worker", 20
        )
        yield srv, m.group(1)
    finally:
        worker.stop()
        if srv.proc is not None:
            srv.proc.send_signal(signal.SIGCONT)
            srv.stop()


def _send_far(srv: Server, **extra: object) -> str:
    with srv.client() as c:
        r = c.post(
            "/v1/omnimessage",
            json={
                "to": "+37251230400",
                "time_to_send": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "messages": [{"channel": "sms", "text": "moved"}],
                **extra,
            },
        )
    assert r.status_code == 201, r.text
    omni_id: str = r.json()["omnimessage_id"]
    return omni_id


def _fired_by(db: str, omni_id: str, worker_owner: str) -> None:
    """The message is claimed by the worker, and sent at most LATE_S after its due time."""
    owner = wait_until(
        lambda: (
            [
                r[0]
                for r in pg_query(
                    db,
                    "SELECT lease_owner FROM timers WHERE ref = $1 AND state = 'claimed'",
                    omni_id,
                )
            ]
            or [
                "(sent)"
                for _ in pg_query(
                    db,
                    "SELECT 1 FROM channel_messages WHERE omnimessage_id = $1 AND sent_us IS NOT NULL",
                    omni_id,
                )
            ]
        ),
        "a dispatcher to claim the message",
        10,
        interval=0.002,
    )
    assert owner == [worker_owner], owner
    sent_us, due_us = wait_until(
        lambda: pg_query(
            db,
            "SELECT c.sent_us, o.due_us FROM channel_messages c"
            " JOIN omnimessages o ON o.id = c.omnimessage_id"
            " WHERE c.omnimessage_id = $1 AND c.sent_us IS NOT NULL",
            omni_id,
        ),
        "the message to be sent",
        10,
    )[0]
    late_s = (sent_us - due_us) / 1_000_000
    assert 0 <= late_s <= LATE_S, late_s


def _stop_right_after(srv: Server, due: datetime) -> None:
    assert srv.proc is not None
    os.kill(srv.proc.pid, signal.SIGSTOP)
    # The server's dispatcher claims the message a look-ahead (0.3 s) before it is due.
    margin = (due - datetime.now(UTC)).total_seconds()
    assert margin > 0.35, f"the server was stopped only {margin:.3f} s before the due time"


def test_a_reschedule_wakes_the_other_process(
    server_and_worker: tuple[Server, str], pg_database: str
) -> None:
    srv, worker_owner = server_and_worker
    omni_id = _send_far(srv)
    with srv.client() as c:
        due = datetime.now(UTC) + timedelta(seconds=1)
        r = c.patch(f"/v1/omnimessage/{omni_id}", json={"time_to_send": due.isoformat()})
    _stop_right_after(srv, due)
    assert r.status_code == 200, r.text
    _fired_by(pg_database, omni_id, worker_owner)


def test_a_batch_resume_wakes_the_other_process(
    server_and_worker: tuple[Server, str], pg_database: str
) -> None:
    srv, worker_owner = server_and_worker
    tag = f"wake-{uuid.uuid4().hex[:8]}"
    omni_id = _send_far(srv, batch=tag)
    with srv.client() as c:
        assert c.post(f"/v1/batches/{tag}/pause", json={}).json()["changed"] == 1
        # Moved while paused: nothing is woken (a paused message is never claimed) ...
        due = datetime.now(UTC) + timedelta(seconds=1.5)
        r = c.patch(f"/v1/omnimessage/{omni_id}", json={"time_to_send": due.isoformat()})
        assert r.status_code == 200 and r.json()["state"] == "paused", r.text
        # ... until the resume, which must tell the worker.
        r = c.post(f"/v1/batches/{tag}/resume", json={})
    _stop_right_after(srv, due)
    assert r.json()["changed"] == 1, r.text
    _fired_by(pg_database, omni_id, worker_owner)
