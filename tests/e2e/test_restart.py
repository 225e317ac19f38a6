"""A scheduled message survives a stop (clean or kill -9) and fires once the server is back."""

from __future__ import annotations

import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from tests.e2e.server import Server
from tests.waiting import settle, wait_until


def _schedule(server: Server, seconds: float, text: str) -> tuple[str, datetime]:
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    with server.client() as c:
        r = c.post(
            "/v1/omnimessage",
            json={
                "to": "+37251230001",
                "time_to_send": at.isoformat(),
                "messages": [{"channel": "sms", "text": text}],
            },
        )
    assert r.status_code == 201, r.text
    return r.json()["omnimessage_id"], at


def _inbox(server: Server) -> list[dict[str, object]]:
    with server.client() as c:
        r = c.get("/v1/sandbox/messages", params={"to": "+37251230001"})
    assert r.status_code == 200
    return list(r.json()["messages"])


def _wait_for(server: Server, omni_id: str, timeout: float) -> dict[str, object]:
    def arrived() -> dict[str, object] | None:
        return next((m for m in _inbox(server) if m["omnimessage_id"] == omni_id), None)

    return wait_until(arrived, f"{omni_id} to arrive", timeout)


def test_clean_stop_then_restart_fires_on_time(server: Server) -> None:
    omni_id, at = _schedule(server, 4.0, "after a clean restart")
    assert server.stop(signal.SIGTERM) == 0
    server.start()
    up = datetime.now(UTC)
    msg = _wait_for(server, omni_id, 10)
    delivered = datetime.fromisoformat(str(msg["delivered_at"]))
    assert delivered >= at
    if up < at:  # back before its time: on time
        assert delivered - at < timedelta(milliseconds=250)
    else:  # the restart itself took longer: sent as soon as it was back
        assert delivered - up < timedelta(seconds=2)
    assert len([m for m in _inbox(server) if m["omnimessage_id"] == omni_id]) == 1


def test_kill_9_while_due_then_sent_at_restart(server: Server) -> None:
    omni_id, at = _schedule(server, 0.8, "fell due while down")
    server.stop(signal.SIGKILL)
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.3)
    started = datetime.now(UTC)
    server.start()
    msg = _wait_for(server, omni_id, 10)
    delivered = datetime.fromisoformat(str(msg["delivered_at"]))
    assert delivered >= at
    assert delivered - started < timedelta(seconds=5)
    with server.client() as c:
        settle(
            lambda: (
                c.get(f"/v1/omnimessage/{omni_id}/status").json()["statuses"][0]["status"]
                == "DELIVRD"
            ),
            10,
        )
        status = c.get(f"/v1/omnimessage/{omni_id}/status").json()
    assert status["statuses"][0]["status"] == "DELIVRD"


def test_kill_9_with_the_send_claimed_then_sent_at_restart_not_after_the_lease(
    server: Server,
) -> None:
    """Killed after it had leased the due send (a 30 s lease): alone on the SQLite file, the
    restarted server takes the dead process's leases back at once."""
    omni_id, _ = _schedule(server, 3600, "claimed, then killed")
    db = sqlite3.connect(server.database.removeprefix("sqlite:///"))
    try:
        soon = int((time.time() + 0.5) * 1_000_000)
        with db:
            db.execute("UPDATE timers SET due_us = ? WHERE ref = ?", (soon, omni_id))
            db.execute("UPDATE omnimessages SET due_us = ? WHERE id = ?", (soon, omni_id))
        # The server finds it on its safety poll and leases it ahead (its look-ahead).
        wait_until(
            lambda: (
                db.execute("SELECT state FROM timers WHERE ref = ?", (omni_id,)).fetchone()
                == ("claimed",)
            ),
            "the server to claim the due send",
            10,
            interval=0.002,
        )
    finally:
        db.close()
    server.stop(signal.SIGKILL)
    started = datetime.now(UTC)
    server.start()
    msg = _wait_for(server, omni_id, 10)
    delivered = datetime.fromisoformat(str(msg["delivered_at"]))
    assert delivered - started < timedelta(seconds=5)  # not after the 30 s lease
    assert len([m for m in _inbox(server) if m["omnimessage_id"] == omni_id]) == 1
