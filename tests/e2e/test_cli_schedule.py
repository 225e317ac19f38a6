"""`tidings list | reschedule | batch` as subprocesses against the real server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.e2e.server import Server
from tests.e2e.test_cli_client import cli, ok, ok_json

TO = "+37251230201"


def test_list_reschedule_and_batch(shared_server: Server) -> None:
    tag = f"cli-{uuid.uuid4().hex[:8]}"
    sent = [
        ok_json(shared_server, "send", "--to", TO, "--text", f"hi {i}", "--at", "+2h")
        for i in range(2)
    ]
    ids = [s["omnimessage_id"] for s in sent]
    listed = ok_json(shared_server, "list", "--state", "scheduled", "--to", TO)
    assert [i["omnimessage_id"] for i in listed["items"]] == ids
    table = ok(shared_server, "list", "--to", TO, "--limit", "1")
    assert ids[-1] in table and "scheduled" in table and "more: --cursor" in table

    day = (datetime.now(UTC) + timedelta(days=50)).strftime("%Y-%m-%d")
    moved = ok_json(shared_server, "reschedule", ids[0], "--at", f"{day}T10:00:00Z")
    assert moved["send_at"] == f"{day}T10:00:00.000Z"
    assert "rescheduled" in ok(shared_server, "reschedule", ids[1], "--at", "+3h")
    refused = cli(shared_server, "reschedule", str(uuid.uuid4()), "--at", "+1h")
    assert refused.returncode == 1 and "error 101 (Not found)" in refused.stderr

    # A batch through the API (the CLI's send has no --batch; send --csv has a batch column).
    with shared_server.client() as c:
        body = {
            "messages": [
                {
                    "to": TO,
                    "batch": tag,
                    "time_to_send": f"{day}T00:00Z",
                    "messages": [{"channel": "sms", "text": "b"}],
                }
            ]
            * 3
        }
        assert c.post("/v1/omnimessages", json=body).status_code == 201
    assert "paused 3 messages" in ok(shared_server, "batch", "pause", tag)
    shown = ok(shared_server, "batch", "show", tag)
    assert "3 messages" in shown and "paused" in shown
    assert ok_json(shared_server, "batch", "resume", tag, "--skip-missed")["changed"] == 3
    assert ok_json(shared_server, "batch", "cancel", tag) == {"batch": tag, "changed": 3}
    assert ok_json(shared_server, "batch", "show", tag)["counts"]["cancelled"] == 3
    bad = cli(shared_server, "batch", "pause", tag, "--skip-missed")
    assert bad.returncode == 2
