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
SEQUENTIAL = 200  # extra messages cancelled one at a time first: service time without queueing
HOUR_US = 3_600_000_000


async def run(backend: str, quick: bool) -> dict[str, Any]:
    run = Run(NAME, backend, quick)
    notes: list[str] = []
    async with workspace() as wd, environment(backend, wd) as env:
        server = env.server
        await warm_auth(env)
        tts = iso_us(now_us() + HOUR_US)
        total = COUNT + SEQUENTIAL
        payloads = [
            bodies.bulk([bodies.sms_viber(start + i, tts) for i in range(min(1000, total - start))])
            for start in range(0, total, 1000)
        ]
        scheduled = await post_bulk(env, payloads, 2, keep_ids=True)
        ids, baseline_ids = scheduled.omnimessage_ids[:COUNT], scheduled.omnimessage_ids[COUNT:]
        log(
            f"{NAME}: scheduled {len(ids)} + {len(baseline_ids)}; {SEQUENTIAL} cancels one at a time"
        )
        sequential = await each_path(
            env, "DELETE", [f"/v1/omnimessage/{i}" for i in baseline_ids], 1
        )
        log(f"{NAME}: cancelling {len(ids)}, {CONCURRENCY} at a time")
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
        in_db = int(
            await env.reader.fetchval("SELECT COUNT(*) FROM omnimessages WHERE state = 'cancelled'")
        )
        chans_deleted = int(
            await env.reader.fetchval(
                "SELECT COUNT(*) FROM channel_messages WHERE status = 'DELETED'"
            )
        )
        timers_left = await env.reader.fetchval("SELECT COUNT(*) FROM timers")

    lat = summarize(cancels.latencies_ms, (50, 99, 99.9))
    ok_202 = cancels.statuses.get("202", 0)
    valid = len(ids) == COUNT
    if not valid:
        notes.append(f"invalid: only {len(ids)} of {COUNT} messages were scheduled")
    notes.append(
        f"first {SEQUENTIAL} other messages are cancelled one at a time"
        " (sequential_cancel_latency_ms: the service time without queueing)"
    )
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
            "sequential_baseline": SEQUENTIAL,
            "concurrency": CONCURRENCY,
            "scheduled_ahead_s": HOUR_US / 1e6,
            "body": "SMS then Viber fallback, 120-character text",
        },
        results={
            "cancel_latency_ms": lat,
            "cancel_statuses": dict(cancels.statuses),
            "sequential_cancel_latency_ms": summarize(sequential.latencies_ms, (50, 99)),
            "sequential_cancel_statuses": dict(sequential.statuses),
            "cancels_per_s": r3(len(cancels.latencies_ms) / cancels.elapsed_s)
            if cancels.elapsed_s
            else None,
            "cancel_cpu": cancel_cpu,
            "status_statuses": dict(statuses.statuses),
            "status_latency_ms": summarize(statuses.latencies_ms, (50, 99)),
            "status_all_deleted": deleted,
            "db_cancelled": in_db,
            "db_cancelled_expected": len(ids) + len(baseline_ids),
            "db_channel_messages_deleted": chans_deleted,
            "db_channel_messages_deleted_expected": 2 * (len(ids) + len(baseline_ids)),
            "db_timers_left": int(timers_left),
        },
        checks=checks,
        notes=notes,
        server=server.report(),
        valid=valid,
    )
