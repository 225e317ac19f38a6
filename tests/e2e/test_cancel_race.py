"""Cancel racing send at the same instant: each message is cancelled (202, never delivered) or
delivered (and the cancel answers 404) — never both, never neither."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.server import Server

N = 300


async def _race(server: Server) -> None:
    at = datetime.now(UTC) + timedelta(seconds=2.5)
    async with httpx.AsyncClient(base_url=server.url, auth=server.auth, timeout=30) as c:
        body = {
            "messages": [
                {
                    "to": "+37251239999",
                    "time_to_send": at.isoformat(),
                    "messages": [{"channel": "sms", "text": f"race {i}"}],
                }
                for i in range(N)
            ]
        }
        r = await c.post("/v1/omnimessages", json=body)
        assert r.status_code == 201, r.text
        ids = [m["omnimessage_id"] for m in r.json()["messages"]]
        # Start cancelling just before the instant, so the cancels straddle it.
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() - 0.05))
        sem = asyncio.Semaphore(32)

        async def cancel(omni_id: str) -> int:
            async with sem:
                return (await c.delete(f"/v1/omnimessage/{omni_id}")).status_code

        codes = dict(zip(ids, await asyncio.gather(*(cancel(i) for i in ids)), strict=True))
        assert set(codes.values()) <= {202, 404}
        # Let every message that was not cancelled be delivered.
        deadline = time.monotonic() + 10
        delivered: set[str] = set()
        expected = sum(1 for v in codes.values() if v == 404)
        while time.monotonic() < deadline:
            inbox = (
                await c.get("/v1/sandbox/messages", params={"to": "+37251239999", "limit": 1000})
            ).json()
            delivered = {m["omnimessage_id"] for m in inbox["messages"]}
            if len(delivered) >= expected:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        inbox = (
            await c.get("/v1/sandbox/messages", params={"to": "+37251239999", "limit": 1000})
        ).json()
        delivered = {m["omnimessage_id"] for m in inbox["messages"]}
        assert len(inbox["messages"]) == len(delivered), "a message was delivered twice"
        for omni_id, code in codes.items():
            if code == 202:
                assert omni_id not in delivered, f"{omni_id} cancelled (202) but delivered"
                st = (await c.get(f"/v1/omnimessage/{omni_id}/status")).json()
                assert {s["status"] for s in st["statuses"]} == {"DELETED"}
            else:
                assert omni_id in delivered, f"{omni_id} not cancelled (404) but never delivered"
        # Both sides of the race must have been exercised for the test to mean anything.
        assert 0 < expected < N or N < 50, codes


def test_cancel_races_send(server: Server) -> None:
    asyncio.run(_race(server))
