"""Quiet hours over the real server: the account's window set with `tidings accounts set`
holds a message sent now to a recipient whose local time is inside it; `"quiet_hours": null`
sends at once; the console says why; a bad window is a 400 naming the field."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.server import Server, run_cli
from tests.e2e.test_console_http import signed_in
from tests.waiting import wait_until

# phonenumbers: Africa/Nairobi, a zone without DST, so that a window written around the wall
# clock's "now" ends where these tests expect on any day of the year. DST nights are covered
# on a fake clock (tests/integration/test_quiet_hours_front_door.py, tests/unit).
TO = "+254712345678"
ZONE = ZoneInfo("Africa/Nairobi")


def window_around_now() -> tuple[str, datetime]:
    """A window from an hour ago to two hours ahead in the recipient's local time, and the
    instant it ends (whole minutes, as the window is written)."""
    local = datetime.now(UTC).astimezone(ZONE).replace(second=0, microsecond=0)
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}", end.astimezone(UTC)


def sms(text: str, **extra: object) -> dict[str, object]:
    return {"to": TO, "messages": [{"channel": "sms", "text": text}], **extra}


def test_account_quiet_hours_hold_a_message_and_null_ignores_them(server: Server) -> None:
    window, ends = window_around_now()
    run_cli("accounts", "set", "alice", "--quiet-hours", window, database=server.database)

    with server.client() as c:
        held = c.post("/v1/omnimessage", json=sms("held"))
        now = c.post("/v1/omnimessage", json=sms("at once", quiet_hours=None))
        assert held.status_code == 201 and now.status_code == 201, (held.text, now.text)
        inbox = wait_until(
            lambda: c.get("/v1/sandbox/messages", params={"to": TO}).json()["messages"],
            "the message sent regardless of quiet hours",
        )
        assert [m["text"] for m in inbox] == ["at once"]
        held_id = held.json()["omnimessage_id"]
        status = c.get(f"/v1/omnimessage/{held_id}/status").json()
        assert [s["status"] for s in status["statuses"]] == [None]  # Messente's shape, unchanged

    with closing(signed_in(server)) as console:
        page = console.get(f"/messages/{held_id}").text
    assert "held to the end of the recipient's quiet hours" in page
    assert f'data-due-ms="{int(ends.timestamp() * 1000)}"' in page


def test_a_bad_window_is_refused_naming_the_field(shared_server: Server) -> None:
    with shared_server.client() as c:
        for bad in ("22-06", "21:00-21:00", 2100, "21:00-08:00 "):
            r = c.post("/v1/omnimessage", json=sms("x", quiet_hours=bad))
            assert r.status_code == 400, (bad, r.text)
            assert [e["source"] for e in r.json()["errors"]] == ["quiet_hours"], r.text


def _ms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_inspect_list_and_reschedule_show_and_reapply_the_hold(backend_server: Server) -> None:
    """`GET /v1/omnimessage/{id}` and the list items show the requested `time_to_send`, the
    effective `send_at` and `moved_by`; a reschedule applies the same window to its new time,
    setting or clearing `moved_by`."""
    window, ends = window_around_now()
    run_cli("accounts", "set", "alice", "--quiet-hours", window, database=backend_server.database)
    inside = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    after = ends + timedelta(hours=1)

    def shown(c: httpx.Client, omni_id: str) -> list[tuple[object, ...]]:
        """(time_to_send, send_at, moved_by) as inspected and as listed."""
        one = c.get(f"/v1/omnimessage/{omni_id}").json()
        items = c.get("/v1/omnimessages", params={"state": "scheduled", "to": TO}).json()["items"]
        (item,) = [i for i in items if i["omnimessage_id"] == omni_id]
        return [(d["time_to_send"], d["send_at"], d["moved_by"]) for d in (one, item)]

    with backend_server.client() as c:
        r = c.post("/v1/omnimessage", json=sms("held", time_to_send=inside.isoformat()))
        assert r.status_code == 201, r.text
        held = r.json()["omnimessage_id"]
        r = c.post(
            "/v1/omnimessage",
            json=sms("own", time_to_send=inside.isoformat(), quiet_hours=None),
        )
        own_none = r.json()["omnimessage_id"]

        assert shown(c, held) == [(_ms(inside), _ms(ends), "quiet_hours")] * 2
        assert shown(c, own_none) == [(_ms(inside), _ms(inside), None)] * 2

        # Out of the window: no longer held.
        r = c.patch(f"/v1/omnimessage/{held}", json={"time_to_send": after.isoformat()})
        assert r.status_code == 200, r.text
        assert (r.json()["send_at"], r.json()["moved_by"]) == (_ms(after), None)
        assert shown(c, held) == [(_ms(after), _ms(after), None)] * 2

        # Back into it: held to its end again.
        r = c.patch(f"/v1/omnimessage/{held}", json={"time_to_send": inside.isoformat()})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "omnimessage_id": held,
            "state": "scheduled",
            "time_to_send": _ms(inside),
            "send_at": _ms(ends),
            "moved_by": "quiet_hours",
        }
        assert shown(c, held) == [(_ms(inside), _ms(ends), "quiet_hours")] * 2

        # A message sent with `"quiet_hours": null` keeps ignoring the account's window.
        r = c.patch(f"/v1/omnimessage/{own_none}", json={"time_to_send": inside.isoformat()})
        assert (r.json()["send_at"], r.json()["moved_by"]) == (_ms(inside), None)
