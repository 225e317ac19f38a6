"""Cancel racing send at the same instant: each message is cancelled (202, never delivered) or
delivered (and the cancel answers 404) — never both, never neither."""

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
    async with httpx.AsyncClient(base_url=server.url, auth=server.auth, timeout=30) as c:
        ids: list[str] = []
        for start in range(0, N, 1000):
            body = {
                "messages": [
                    {
                        "to": "+37251239999",
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
        # Start cancelling shortly before the instant, so the cancels straddle it. Sending starts
        # TIDINGS_FIRE_LEAD_SECONDS (30 ms) ahead; half a second leaves a loaded machine's client
        # time to land some cancels before that.
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() - 0.5))
        sem = asyncio.Semaphore(32)

        async def cancel(omni_id: str) -> int:
            async with sem:
                return (await c.delete(f"/v1/omnimessage/{omni_id}")).status_code

        started = datetime.now(UTC)
        codes = dict(zip(ids, await asyncio.gather(*(cancel(i) for i in ids)), strict=True))
        ended = datetime.now(UTC)
        assert set(codes.values()) <= {202, 404}
        expected = sum(1 for v in codes.values() if v == 404)
        # Let every message that was not cancelled be delivered.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (
                await asyncio.to_thread(
                    db_query, server.database, "SELECT count(*) FROM sandbox_messages"
                )
            )[0][0] >= expected:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        rows = await asyncio.to_thread(
            db_query, server.database, "SELECT omnimessage_id, handovers FROM sandbox_messages"
        )
        delivered = {r[0] for r in rows}
        assert all(r[1] == 1 for r in rows), "a message was handed over twice"
        for omni_id, code in codes.items():
            if code == 202:
                assert omni_id not in delivered, f"{omni_id} cancelled (202) but delivered"
            else:
                assert omni_id in delivered, f"{omni_id} not cancelled (404) but never delivered"
        sample = [i for i, v in codes.items() if v == 202][:20]
        for omni_id in sample:
            st = (await c.get(f"/v1/omnimessage/{omni_id}/status")).json()
            assert {s["status"] for s in st["statuses"]} == {"DELETED"}
        # Both sides of the race must have been exercised for the test to mean anything.
        assert 0 < expected < N, (
            f"{expected} of {N} were sent before their cancel; cancelling ran from"
            f" {(started - at).total_seconds():+.3f} s to {(ended - at).total_seconds():+.3f} s"
            " around the instant"
        )


def test_cancel_races_send(backend_server: Server) -> None:
    asyncio.run(_race(backend_server))
