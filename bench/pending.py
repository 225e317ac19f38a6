"""Many pending messages (DESIGN.md section 4, fourth row): memory the same (+-50 MB) and claim
time flat with 1 000 000 messages scheduled a day ahead (quick: 100 000) as with none.

Two runs, each on a fresh database and server: `empty`, and `pending` where the rows are written
directly with fast SQL before the server starts (bench/fill.py). In each: the server's RSS
(/proc/PID/status VmRSS) 5 s after it came up and after 200 immediate messages were sent;
accept latency of 500 immediate POSTs one at a time; the immediate-send lateness of all 700
(`sent_us - created_us`, and the sandbox connector's receive time - `created_us`); and the
duration of the dispatcher's own queries run on the database beside it (the claim's index walk,
the next-due lookup, the pending count of the upkeep loop).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench import bodies
from bench.fill import fill
from bench.harness import (
    Account,
    CpuMeter,
    Database,
    Env,
    Run,
    check,
    environment,
    log,
    now_us,
    r3,
    server_lateness_histogram,
    summarize,
    wait_until,
    warm_auth,
    workspace,
)
from bench.load import each_path
from tidings.store.queries import query

NAME = "pending"
FIRST_WAVE = 200
TIMED = 500
UP_BEFORE_RSS_S = 5.0

# The dispatcher's queries (store/sql/*.sql), read-only.
CLAIM_WALK = (
    "SELECT id FROM timers WHERE state = 'pending' AND priority = 1 AND due_us <= $1"
    " ORDER BY due_us LIMIT 2000"
)
NEXT_DUE = query("next_due").postgresql or ""  # `$n` style: the harness converts it
PENDING_COUNT = query("pending_count").postgresql or ""  # the upkeep loop's gauge
# How many scheduled sends the database holds (the run's validity check, not a server query).
SENDS_PENDING = "SELECT COUNT(*) FROM timers WHERE state = 'pending' AND kind = 'send'"


async def _sandbox_count(env: Env) -> int:
    return int(await env.reader.fetchval("SELECT COUNT(*) FROM sandbox_messages"))


async def _case(backend: str, workdir: Path, pending: int) -> dict[str, Any]:
    fill_info: dict[str, Any] = {}

    async def before_start(db: Database, account: Account) -> None:
        if pending:
            fill_info.update(await fill(db, account.id, pending))

    label = f"{pending} pending" if pending else "empty"
    async with environment(backend, workdir, before_start, start_limit_s=300) as env:
        server = env.server
        await asyncio.sleep(UP_BEFORE_RSS_S)  # the server answered /healthz just now
        rss_idle = server.rss_mb()
        await warm_auth(env)
        body = bodies.dumps(bodies.sms_only(1, None))  # immediate: no time_to_send
        post = "/v1/omnimessage"

        log(f"{NAME} [{label}]: {FIRST_WAVE} immediate messages")
        first = await each_path(env, "POST", [post] * FIRST_WAVE, 8, body=body)
        await wait_until(
            lambda: _at_least(env, first.statuses.get("201", 0)), limit_s=60, what="first wave"
        )
        rss_after = server.rss_mb()

        log(f"{NAME} [{label}]: {TIMED} immediate POSTs one at a time")
        cpu = CpuMeter(server.pid)
        timed = await each_path(env, "POST", [post] * TIMED, 1, body=body)
        timed_cpu = cpu.read()
        accepted = first.statuses.get("201", 0) + timed.statuses.get("201", 0)
        await wait_until(lambda: _at_least(env, accepted), limit_s=60, what="all immediate sent")
        rss_end = server.rss_mb()

        rows = await env.reader.fetch(
            "SELECT c.sent_us, o.created_us, s.delivered_us FROM sandbox_messages s"
            " JOIN channel_messages c ON c.id = s.message_id"
            " JOIN omnimessages o ON o.id = c.omnimessage_id"
        )
        horizon = now_us() + 300_000
        queries = {
            "claim_index_walk": await env.reader.timed(CLAIM_WALK, horizon),
            "next_due": await env.reader.timed(NEXT_DUE),
            "pending_count": await env.reader.timed(PENDING_COUNT),
        }
        histogram = await server_lateness_histogram(env)
        counted = int(await env.reader.fetchval(SENDS_PENDING))

    lateness = [(s - c) / 1000 for s, c, _ in rows if s is not None]
    handover = [(d - c) / 1000 for _, c, d in rows if d is not None]
    return {
        "pending": pending,
        "pending_counted": counted,
        "fill": fill_info,
        "rss_mb_up_5s": rss_idle,
        "rss_mb_after_200_sent": rss_after,
        "rss_mb_end": rss_end,
        "accept_latency_ms": summarize(timed.latencies_ms, (50, 99)),
        "accept_statuses": {
            "first_wave": dict(first.statuses),
            "timed": dict(timed.statuses),
        },
        "timed_cpu": timed_cpu,
        "immediate_lateness_ms": summarize(lateness, (50, 99)),
        "immediate_handover_lateness_ms": summarize(handover, (50, 99)),
        "dispatcher_queries_ms": queries,
        "server_histogram": histogram,
        "server": server.report(),  # after the `async with`: includes the exit code
    }


async def _at_least(env: Env, n: int) -> bool:
    return await _sandbox_count(env) >= n


def _delta(a: dict[str, Any], b: dict[str, Any], *path: str) -> float | None:
    x: Any = a
    y: Any = b
    for p in path:
        x, y = x.get(p) if x else None, y.get(p) if y else None
    if x is None or y is None:
        return None
    return r3(float(y) - float(x))


async def run(backend: str, quick: bool) -> dict[str, Any]:
    run = Run(NAME, backend, quick)
    n = 100_000 if quick else 1_000_000
    async with workspace() as wd:
        empty = await _case(backend, wd, 0)
        loaded = await _case(backend, wd, n)

    deltas = {
        "rss_mb_up_5s": _delta(empty, loaded, "rss_mb_up_5s"),
        "rss_mb_after_200_sent": _delta(empty, loaded, "rss_mb_after_200_sent"),
        "rss_mb_end": _delta(empty, loaded, "rss_mb_end"),
        "accept_p50_ms": _delta(empty, loaded, "accept_latency_ms", "p50"),
        "accept_p99_ms": _delta(empty, loaded, "accept_latency_ms", "p99"),
        "immediate_lateness_p50_ms": _delta(empty, loaded, "immediate_lateness_ms", "p50"),
        "immediate_lateness_p99_ms": _delta(empty, loaded, "immediate_lateness_ms", "p99"),
        "immediate_handover_p50_ms": _delta(empty, loaded, "immediate_handover_lateness_ms", "p50"),
        "claim_index_walk_ms": _delta(
            empty, loaded, "dispatcher_queries_ms", "claim_index_walk", "median_ms"
        ),
        "next_due_ms": _delta(empty, loaded, "dispatcher_queries_ms", "next_due", "median_ms"),
        "pending_count_ms": _delta(
            empty, loaded, "dispatcher_queries_ms", "pending_count", "median_ms"
        ),
        "startup_s": _delta(empty, loaded, "server", "startup_s"),
    }

    def mag(x: float | None) -> float | None:
        return None if x is None else abs(x)

    notes = [
        "claim time flat: the claim's index walk may cost at most 1 ms more with the pending"
        " rows, and the end-to-end immediate-send lateness at most 2 ms more at p50 and 10 ms"
        " more at p99 (the lateness targets themselves)",
        "dispatcher_queries_ms are timed from the benchmark's own connection on the same"
        " database (median of 5); pending_count is the upkeep loop's COUNT(*), run every 30 s",
    ]
    valid = loaded.get("pending_counted", 0) >= n and all(
        c["server"].get("clean_exit") for c in (empty, loaded)
    )
    if not valid:
        notes.append("invalid: the pending rows were not all there, or a server exit was unclean")
    checks = [
        check("rss_delta_up_5s_abs_mb", mag(deltas["rss_mb_up_5s"]), "<=", 50, "MB"),
        check(
            "rss_delta_after_200_sent_abs_mb", mag(deltas["rss_mb_after_200_sent"]), "<=", 50, "MB"
        ),
        check("claim_index_walk_delta_ms", deltas["claim_index_walk_ms"], "<=", 1, "ms"),
        check(
            "immediate_lateness_p50_delta_ms", deltas["immediate_lateness_p50_ms"], "<=", 2, "ms"
        ),
        check(
            "immediate_lateness_p99_delta_ms", deltas["immediate_lateness_p99_ms"], "<=", 10, "ms"
        ),
    ]
    return run.finish(
        params={
            "pending": n,
            "pending_scheduled": "uniformly 1-2 days ahead, SMS then Viber fallback",
            "first_wave": FIRST_WAVE,
            "timed_posts": TIMED,
            "immediate_body": "sms only, no time_to_send",
        },
        results={"empty": empty, "pending": loaded, "delta_pending_minus_empty": deltas},
        checks=checks,
        notes=notes,
        server={"empty": empty["server"], "pending": loaded["server"]},
        valid=valid,
    )
