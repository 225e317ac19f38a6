"""The scheduling extensions over a real server (plain HTTP; the official client for the
unchanged Messente endpoints): list and inspect, reschedule, batches, and their errors."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from messente_api import ApiClient, Configuration, DeliveryReportApi

from tests.e2e.processes import db_query
from tests.e2e.server import Server

TO = "+37251230001"
SOON = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%MZ")


def _send(c: httpx.Client, to: str, at: datetime | None, batch: str | None = None) -> str:
    body: dict[str, Any] = {"to": to, "messages": [{"channel": "sms", "text": "hello"}]}
    if at is not None:
        body["time_to_send"] = at.isoformat()
    if batch is not None:
        body["batch"] = batch
    r = c.post("/v1/omnimessage", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["omnimessage_id"])


def _statuses(server: Server, omni_id: str) -> list[str | None]:
    """The Messente status endpoint through the official client (unchanged by the extensions)."""
    config = Configuration(
        host=f"{server.url}/v1", username=server.username, password=server.password
    )
    with ApiClient(config) as api:
        report = DeliveryReportApi(api).retrieve_delivery_report(omni_id)
    return [s.status for s in report.statuses]


def _wait(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _error(r: httpx.Response, status: int, source: str | None) -> None:
    assert r.status_code == status, r.text
    (item,) = r.json()["errors"]
    assert item["source"] == source, item


def test_list_inspect_reschedule(shared_server: Server) -> None:
    to = "+37251230101"
    later = datetime.now(UTC) + timedelta(hours=2)
    with shared_server.client() as c:
        ids = [_send(c, to, later + timedelta(minutes=i)) for i in range(5)]
        # Soonest first, three per page: each exactly once, in due order.
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"state": "scheduled", "to": to, "limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/v1/omnimessages", params=params).json()
            seen += [i["omnimessage_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids
        item = c.get("/v1/omnimessages", params={"to": to, "limit": 1}).json()["items"][0]
        assert item["omnimessage_id"] == ids[-1]  # no state: newest first
        assert item["state"] == "scheduled" and item["priority"] == "regular"
        assert item["send_at"] == item["time_to_send"]
        assert item["send_at"].endswith("Z") and len(item["send_at"]) == 24  # ms precision

        # Reschedule to sooner: it is sent at the new time, and the history says so.
        r = c.patch(f"/v1/omnimessage/{ids[2]}", json={"time_to_send": "2000-01-01T00:00Z"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "scheduled"
        assert r.json()["time_to_send"] == "2000-01-01T00:00:00.000Z"
        assert _wait(lambda: _statuses(shared_server, ids[2]) == ["DELIVRD"])
        detail = c.get(f"/v1/omnimessage/{ids[2]}").json()
        assert detail["state"] == "delivered"
        kinds = [(e["kind"], e["outcome"] or e["status"]) for e in detail["history"]]
        assert kinds[0] == ("lifecycle", "rescheduled")
        assert ("status", "DELIVRD") in kinds
        assert detail["channels"][0]["content"] == {"text": "hello"}
        assert detail["channels"][0]["validity"] == 360
        # Now that it has been sent, it cannot be moved: 404 as for cancel.
        r = c.patch(f"/v1/omnimessage/{ids[2]}", json={"time_to_send": SOON})
        _error(r, 404, None)

        # Reschedule later: still waiting, moved.
        local = (datetime.now(UTC) + timedelta(days=40)).replace(hour=10, minute=0, second=0)
        r = c.patch(
            f"/v1/omnimessage/{ids[0]}",
            json={"time_to_send": local.strftime("%Y-%m-%dT10:00+02:00")},
        )
        assert r.status_code == 200 and r.json()["send_at"] == local.strftime(
            "%Y-%m-%dT08:00:00.000Z"
        )
        page = c.get("/v1/omnimessages", params={"state": "scheduled", "to": to}).json()
        assert [i["omnimessage_id"] for i in page["items"]][-1] == ids[0]
        assert _statuses(shared_server, ids[0]) == [None]  # the Messente view is unchanged


def test_errors(shared_server: Server) -> None:
    with shared_server.client() as c:
        omni_id = _send(c, "+37251230102", datetime.now(UTC) + timedelta(hours=1))
        _error(c.get("/v1/omnimessages", params={"state": "sending"}), 400, "state")
        _error(c.get("/v1/omnimessages", params={"limit": "0"}), 400, "limit")
        _error(c.get("/v1/omnimessages", params={"limit": "1001"}), 400, "limit")
        _error(c.get("/v1/omnimessages", params={"limit": "+5"}), 400, "limit")
        _error(c.get("/v1/omnimessages?limit=5&limit=6"), 400, "limit")
        _error(c.get("/v1/omnimessages", params={"due_from": SOON[:10]}), 400, "due_from")
        _error(c.get("/v1/omnimessages", params={"to": "12"}), 400, "to")
        _error(c.get("/v1/omnimessages", params={"batch": "a b"}), 400, "batch")
        _error(c.get("/v1/omnimessages", params={"cursor": "nonsense"}), 400, "cursor")
        # A cursor of the newest-first order is not a cursor of the soonest-first one.
        page = c.get("/v1/omnimessages", params={"limit": 1}).json()
        assert page["next_cursor"]
        r = c.get("/v1/omnimessages", params={"state": "scheduled", "cursor": page["next_cursor"]})
        _error(r, 400, "cursor")

        path = f"/v1/omnimessage/{omni_id}"
        _error(c.patch(path, json={"time_to_send": SOON[:10]}), 400, "time_to_send")
        _error(c.patch(path, json={"time_to_send": "2099-01-01T00:00Z"}), 400, "time_to_send")
        _error(c.patch(path, json={}), 400, "time_to_send")
        r = c.patch(path, content=b'{"time_to_send": "%s"}' % SOON.encode())  # no JSON type
        assert r.status_code == 415
        _error(
            c.patch(f"/v1/omnimessage/{uuid.uuid4()}", json={"time_to_send": SOON}),
            404,
            None,
        )
        _error(c.get(f"/v1/omnimessage/{uuid.uuid4()}"), 404, None)
        _error(c.get("/v1/omnimessage/not-a-uuid"), 404, None)

        _error(c.post("/v1/batches/a%20b/pause", json={}), 400, "tag")
        assert c.post("/v1/batches/x/pause").status_code == 415  # no body: refused
        _error(c.post("/v1/batches/x/pause", json=[]), 400, None)
        _error(c.post("/v1/batches/x/resume?skip_missed=yes", json={}), 400, "skip_missed")
        _error(c.get(f"/v1/batches/{uuid.uuid4()}"), 404, None)

    # Another account sees none of it: 404, and its list is its own.
    with httpx.Client(base_url=shared_server.url, auth=("bob", "bob-secret-pw"), timeout=10) as bob:
        _error(bob.get(f"/v1/omnimessage/{omni_id}"), 404, None)
        r = bob.patch(f"/v1/omnimessage/{omni_id}", json={"time_to_send": SOON})
        _error(r, 404, None)
        assert omni_id not in {
            i["omnimessage_id"] for i in bob.get("/v1/omnimessages").json()["items"]
        }


def test_batches_pause_resume_cancel(backend_server: Server) -> None:
    tag = f"camp-{uuid.uuid4().hex[:8]}"
    soon = datetime.now(UTC) + timedelta(seconds=2)
    with backend_server.client() as c:
        ids = [_send(c, "+37251230103", soon, tag) for _ in range(3)]
        far = _send(c, "+37251230103", datetime.now(UTC) + timedelta(hours=1), tag)
        r = c.post(f"/v1/batches/{tag}/pause", json={})
        assert r.status_code == 200 and r.json() == {"batch": tag, "changed": 4}
        counts = c.get(f"/v1/batches/{tag}").json()
        assert counts["total"] == 4 and counts["counts"]["paused"] == 4
        assert counts["counts"]["scheduled"] == 0
        # Their time passes while paused: nothing is sent.
        time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 1.0)
        assert all(_statuses(backend_server, i) == [None] for i in ids)
        listed = c.get("/v1/omnimessages", params={"state": "paused", "batch": tag}).json()
        assert {i["omnimessage_id"] for i in listed["items"]} == {*ids, far}
        # Resume: the missed ones go at once.
        resumed_us = time.time_ns() // 1000
        r = c.post(f"/v1/batches/{tag}/resume", json={})
        assert r.json()["changed"] == 4
        assert _wait(lambda: all(_statuses(backend_server, i) == ["DELIVRD"] for i in ids))
        sent = db_query(
            backend_server.database,
            "SELECT sent_us FROM channel_messages WHERE omnimessage_id IN ($1, $2, $3)",
            *ids,
        )
        assert len(sent) == 3
        assert all(0 <= (s - resumed_us) / 1e6 <= 1.0 for (s,) in sent), (resumed_us, sent)
        assert _statuses(backend_server, far) == [None]
        history = c.get(f"/v1/omnimessage/{ids[0]}").json()["history"]
        assert [e["outcome"] for e in history if e["kind"] == "lifecycle"] == ["paused", "resumed"]
        # Cancel: the one still waiting; the sent ones are not touched.
        r = c.post(f"/v1/batches/{tag}/cancel", json={})
        assert r.json() == {"batch": tag, "changed": 1}
        assert _statuses(backend_server, far) == ["DELETED"]
        counts = c.get(f"/v1/batches/{tag}").json()["counts"]
        assert (counts["delivered"], counts["cancelled"], counts["scheduled"]) == (3, 1, 0)


def test_resume_skip_missed(backend_server: Server) -> None:
    tag = f"skip-{uuid.uuid4().hex[:8]}"
    soon = datetime.now(UTC) + timedelta(seconds=1)
    with backend_server.client() as c:
        missed = _send(c, "+37251230104", soon, tag)
        later = _send(c, "+37251230104", datetime.now(UTC) + timedelta(hours=1), tag)
        assert c.post(f"/v1/batches/{tag}/pause", json={}).json()["changed"] == 2
        time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
        r = c.post(f"/v1/batches/{tag}/resume", params={"skip_missed": "true"}, json={})
        assert r.json()["changed"] == 2
        assert _statuses(backend_server, missed) == ["DELETED"]
        assert _statuses(backend_server, later) == [None]
        state = c.get(f"/v1/omnimessage/{later}").json()["state"]
        assert state == "scheduled"
