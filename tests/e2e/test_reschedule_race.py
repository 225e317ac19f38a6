"""Reschedule racing send at the same instant: each message is either moved (200, and never sent
at its old time) or already sending (404, and delivered) — never both, never neither. The
dispatcher leases due messages into a short look-ahead before their time, so many of the moves
land on a claim already in that look-ahead: the move must fence it off, not lose to it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.processes import db_query
from tests.e2e.server import Server

N = 2000


async def _race(server: Server) -> None:
    at = datetime.now(UTC) + timedelta(seconds=4)
    later = (at + timedelta(hours=1)).isoformat()
    async with httpx.AsyncClient(base_url=server.url, auth=server.auth, timeout=30) as c:
        ids: list[str] = []
        for start in range(0, N, 1000):
            body = {
                "messages": [
                    {
                        "to": "+37251238888",
                        "time_to_send": at.isoformat(),
                        "messages": [{"channel": "sms", "text": f"race {i}"}],
                    }
                    for i in range(start, min(N, start + 1000))
                ]
            }
            r = await c.post("/v1/omnimessages", json=body)
            assert r.status_code == 201, r.text
            ids += [m["omnimessage_id"] for m in r.json()["messages"]]
        assert datetime.now(UTC) < at - timedelta(seconds=0.1), "scheduling took too long"
        # As in test_cancel_race: start half a second before the instant so the requests
        # straddle it (and the dispatcher's look-ahead, 0.3 s, has leased the messages).
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() - 0.5))
        sem = asyncio.Semaphore(32)

        async def move(omni_id: str) -> int:
            async with sem:
                r = await c.patch(f"/v1/omnimessage/{omni_id}", json={"time_to_send": later})
                return r.status_code

        started = datetime.now(UTC)
        codes = dict(zip(ids, await asyncio.gather(*(move(i) for i in ids)), strict=True))
        ended = datetime.now(UTC)
        assert set(codes.values()) <= {200, 404}
        expected = sum(1 for v in codes.values() if v == 404)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            n = (
                await asyncio.to_thread(
                    db_query, server.database, "SELECT count(*) FROM sandbox_messages"
                )
            )[0][0]
            if n >= expected:
                break
            await asyncio.sleep(0.1)
        # Past the instant and the look-ahead: anything still to leave at the old time has.
        await asyncio.sleep(1.0)
        rows = await asyncio.to_thread(
            db_query, server.database, "SELECT omnimessage_id, handovers FROM sandbox_messages"
        )
        delivered = {r[0] for r in rows}
        assert all(r[1] == 1 for r in rows), "a message was handed over twice"
        for omni_id, code in codes.items():
            if code == 200:
                assert omni_id not in delivered, (
                    f"{omni_id} rescheduled (200) but sent at its old time"
                )
            else:
                assert omni_id in delivered, f"{omni_id} not rescheduled (404) but never sent"
        moved = [i for i, v in codes.items() if v == 200]
        for omni_id in moved[:20]:
            item = (await c.get(f"/v1/omnimessage/{omni_id}")).json()
            assert item["state"] == "scheduled" and item["send_at"].startswith(later[:16])
        assert 0 < expected < N, (
            f"{expected} of {N} were sent before their reschedule; requests ran from"
            f" {(started - at).total_seconds():+.3f} s to {(ended - at).total_seconds():+.3f} s"
            " around the instant"
        )


def test_reschedule_races_send(backend_server: Server) -> None:
    asyncio.run(_race(backend_server))
