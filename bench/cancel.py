"""Cancel latency (DESIGN.md section 4, fifth row).

2 000 messages (SMS with a Viber fallback) are scheduled an hour ahead through the bulk endpoint,
then each is DELETEd, 16 at a time: latency percentiles (target p99 <= 10 ms), every answer 202.
Then each one's status must list every channel as DELETED, and the database must hold them as
cancelled with no timer left.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench import bodies
from bench.harness import (
    CpuMeter,
    Run,
    check,
    environment,
    iso_us,
    log,
    now_us,
    r3,
    summarize,
    warm_auth,
    workspace,
)
from bench.load import each_path, post_bulk

NAME = "cancel"
COUNT = 2000
CONCURRENCY = 16
HOUR_US = 3_600_000_000


async def run(backend: str, quick: bool) -> dict[str, Any]:
    run = Run(NAME, backend, quick)
    notes: list[str] = []
    async with workspace() as wd, environment(backend, wd) as env:
        server = env.server
        await warm_auth(env)
        tts = iso_us(now_us() + HOUR_US)
        payloads = [
            bodies.bulk([bodies.sms_viber(start + i, tts) for i in range(1000)])
            for start in range(0, COUNT, 1000)
        ]
        scheduled = await post_bulk(env, payloads, 2, keep_ids=True)
        ids = scheduled.omnimessage_ids
        log(f"{NAME}: scheduled {len(ids)}; cancelling {CONCURRENCY} at a time")
        cpu = CpuMeter(server.pid)
        cancels = await each_path(env, "DELETE", [f"/v1/omnimessage/{i}" for i in ids], CONCURRENCY)
        cancel_cpu = cpu.read()
        statuses = await each_path(
            env, "GET", [f"/v1/omnimessage/{i}/status" for i in ids], CONCURRENCY, keep_bodies=True
        )
        deleted = 0
        for raw in statuses.bodies.values():
            try:
                entries = orjson.loads(raw)["statuses"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if entries and all(e.get("status") == "DELETED" for e in entries):
                deleted += 1
        in_db = await env.reader.fetchval(
            "SELECT COUNT(*) FROM omnimessages WHERE state = 'cancelled'"
        )
        chans_deleted = await env.reader.fetchval(
            "SELECT COUNT(*) FROM channel_messages WHERE status = 'DELETED'"
        )
        timers_left = await env.reader.fetchval("SELECT COUNT(*) FROM timers")

    lat = summarize(cancels.latencies_ms, (50, 99, 99.9))
    ok_202 = cancels.statuses.get("202", 0)
    valid = len(ids) == COUNT
    if not valid:
        notes.append(f"invalid: only {len(ids)} of {COUNT} messages were scheduled")
    notes.append(
        f"DELETEs from {CONCURRENCY} closed loops, each on its own keep-alive connection;"
        " latency is the client's round trip (it includes queueing behind the other 15)"
    )
    checks = [
        check("cancel_p99_ms", lat.get("p99"), "<=", 10, "ms"),
        check("answered_202", float(ok_202), "==", COUNT, "requests"),
        check("status_all_deleted", float(deleted), "==", COUNT, "messages"),
    ]
    return run.finish(
        params={
            "messages": COUNT,
            "concurrency": CONCURRENCY,
            "scheduled_ahead_s": HOUR_US / 1e6,
            "body": "SMS then Viber fallback, 120-character text",
        },
        results={
            "cancel_latency_ms": lat,
            "cancel_statuses": dict(cancels.statuses),
            "cancels_per_s": r3(len(cancels.latencies_ms) / cancels.elapsed_s)
            if cancels.elapsed_s
            else None,
            "cancel_cpu": cancel_cpu,
            "status_statuses": dict(statuses.statuses),
            "status_latency_ms": summarize(statuses.latencies_ms, (50, 99)),
            "status_all_deleted": deleted,
            "db_cancelled": int(in_db),
            "db_channel_messages_deleted": int(chans_deleted),
            "db_timers_left": int(timers_left),
        },
        checks=checks,
        notes=notes,
        server=server.report(),
        valid=valid,
    )
