"""Batch cancel (issue 12): `POST /v1/batches/{tag}/cancel` over 100 000 scheduled messages of
one tag, in one call, target <= 2 s (quick: 20 000).

The rows are written directly before the server starts (bench/fill.py, each with an SMS and a
Viber channel) and tagged with one batch. One call cancels them all: at its answer every message
must be cancelled. Their channels are written out after the answer (store/schedule.py); the run
then waits until every channel is DELETED with its event appended and no timer is left, and
reports that time too (`written_out_s`, from the request's start).
"""

from __future__ import annotations

import time
from typing import Any

from bench.fill import fill
from bench.harness import (
    Account,
    CpuMeter,
    Database,
    Run,
    check,
    environment,
    log,
    r3,
    wait_until,
    warm_auth,
    workspace,
)

NAME = "batch_cancel"
TAG = "bench-batch"


async def run(backend: str, quick: bool) -> dict[str, Any]:
    run = Run(NAME, backend, quick)
    n = 20_000 if quick else 100_000
    fill_info: dict[str, Any] = {}

    async def before_start(db: Database, account: Account) -> None:
        fill_info.update(await fill(db, account.id, n, batch=TAG))

    async with workspace() as wd, environment(backend, wd, before_start, start_limit_s=300) as env:
        await warm_auth(env)
        log(f"{NAME}: cancelling {n} messages in one call")
        cpu = CpuMeter(env.server.pid)
        async with env.client(timeout=120) as c:
            t = time.perf_counter()
            r = await c.post(f"/v1/batches/{TAG}/cancel", json={})
            took = time.perf_counter() - t
        answer = r.json() if r.status_code == 200 else {"status": r.status_code, "body": r.text}
        cancelled = int(
            await env.reader.fetchval("SELECT COUNT(*) FROM omnimessages WHERE state = 'cancelled'")
        )

        async def written_out() -> bool:
            left = await env.reader.fetchval("SELECT COUNT(*) FROM batch_cancel_followups")
            return int(left) == 0

        waited = await wait_until(written_out, 300, interval=0.05, what="the write-out")
        written_out_s = None if waited is None else took + waited
        cancel_cpu = cpu.read()
        deleted = int(
            await env.reader.fetchval(
                "SELECT COUNT(*) FROM channel_messages WHERE status = 'DELETED'"
            )
        )
        logged = int(
            await env.reader.fetchval(
                "SELECT COUNT(*) FROM message_events WHERE kind = 'status' AND status = 'DELETED'"
            )
        )
        timers_left = int(await env.reader.fetchval("SELECT COUNT(*) FROM timers"))
        server = env.server

    channels = deleted
    valid = (
        answer.get("changed") == n and cancelled == n and timers_left == 0 and logged == channels
    )
    notes = [
        "one HTTP request; cancel_s is the client's round trip (one transaction: lock the"
        " timers, cancel the messages, write out the first 2 000); written_out_s is until the"
        " last follow-up chunk committed (DELETED on every channel, their events, timers gone)",
        "no dlr_url on the filled rows, so no webhooks are queued (a cancel with dlr_url would"
        " also queue one report per channel)",
    ]
    if not valid:
        notes.append("invalid: not everything was cancelled, logged and unscheduled")
    return run.finish(
        params={"messages": n, "channels_per_message": 2, "tag": TAG},
        results={
            "fill": fill_info,
            "cancel_s": r3(took),
            "written_out_s": r3(written_out_s) if written_out_s is not None else None,
            "cancelled_at_answer": cancelled,
            "answer": answer,
            "messages_per_s": r3(n / took) if took else None,
            "db_cancelled": cancelled,
            "db_channels_deleted": deleted,
            "db_deleted_events": logged,
            "db_timers_left": timers_left,
            "cpu": cancel_cpu,
        },
        checks=[check("batch_cancel_s", r3(took), "<=", 2, "s")],
        notes=notes,
        server=server.report(),
        valid=valid,
    )
