"""List page latency (issue 12): `GET /v1/omnimessages` over 1 000 000 scheduled messages
(quick: 100 000), target p99 <= 20 ms.

The rows are written directly before the server starts (bench/fill.py), scheduled uniformly one
to two days ahead. Then, one request at a time: 300 pages of 100 of the `scheduled` listing
(soonest first) at random depths (a cursor made from a random row, as a client paging there
would hold), 300 pages of the newest-first listing at random depths, and each listing's first
page 100 times. Every answer must be a 200 with a full page.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

import orjson

from bench.fill import fill
from bench.harness import (
    Account,
    CpuMeter,
    Database,
    Run,
    check,
    environment,
    log,
    summarize,
    warm_auth,
    workspace,
)
from bench.load import RequestsOutcome, each_path
from tidings.web.api.routes_schedule import encode_cursor

NAME = "list"
PAGES = 300
FIRSTS = 100
LIMIT = 100


def _full_pages(out: RequestsOutcome) -> int:
    full = 0
    for raw in out.bodies.values():
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
            full += len(orjson.loads(raw)["items"]) == LIMIT
    return full


async def run(backend: str, quick: bool) -> dict[str, Any]:
    run = Run(NAME, backend, quick)
    n = 100_000 if quick else 1_000_000
    fill_info: dict[str, Any] = {}

    async def before_start(db: Database, account: Account) -> None:
        fill_info.update(await fill(db, account.id, n))

    rng = random.Random(11)
    async with workspace() as wd, environment(backend, wd, before_start, start_limit_s=300) as env:
        await warm_auth(env)
        rows = await env.reader.fetch("SELECT id, due_us, created_us FROM omnimessages")
        picks = rng.sample(rows, PAGES)
        base = f"/v1/omnimessages?limit={LIMIT}"
        due_paths = [
            f"{base}&state=scheduled&cursor={encode_cursor('due', due, oid)}"
            for oid, due, _ in picks
        ]
        new_paths = [
            f"{base}&cursor={encode_cursor('new', created, oid)}" for oid, _, created in picks
        ]
        # Some picks sit near the end of an order and give a short page: count only full ones.
        log(f"{NAME}: {PAGES} scheduled pages at random depths, one at a time")
        cpu = CpuMeter(env.server.pid)
        due = await each_path(env, "GET", due_paths, 1, keep_bodies=True)
        log(f"{NAME}: {PAGES} newest-first pages at random depths")
        new = await each_path(env, "GET", new_paths, 1, keep_bodies=True)
        log(f"{NAME}: first pages")
        first_due = await each_path(env, "GET", [f"{base}&state=scheduled"] * FIRSTS, 1)
        first_new = await each_path(env, "GET", [base] * FIRSTS, 1)
        list_cpu = cpu.read()
        server = env.server

    every = due.latencies_ms + new.latencies_ms + first_due.latencies_ms + first_new.latencies_ms
    lat = summarize(every, (50, 99, 99.9))
    ok = sum(o.statuses.get("200", 0) for o in (due, new, first_due, first_new))
    total = 2 * PAGES + 2 * FIRSTS
    valid = ok == total and _full_pages(due) >= PAGES * 0.9 and _full_pages(new) >= PAGES * 0.9
    notes = [
        "each request alone (one closed loop): the latency is the service time of a page of 100"
        " items with their channels, over keep-alive HTTP",
        "random-depth pages use a cursor made from a random stored row, exactly what a client"
        " paging to that depth would send",
    ]
    if not valid:
        notes.append("invalid: not every answer was a 200, or too many pages were short")
    return run.finish(
        params={"rows": n, "limit": LIMIT, "random_depth_pages": PAGES, "first_pages": FIRSTS},
        results={
            "fill": fill_info,
            "page_latency_ms": lat,
            "scheduled_random_ms": summarize(due.latencies_ms, (50, 99)),
            "newest_random_ms": summarize(new.latencies_ms, (50, 99)),
            "scheduled_first_ms": summarize(first_due.latencies_ms, (50, 99)),
            "newest_first_ms": summarize(first_new.latencies_ms, (50, 99)),
            "statuses_200": ok,
            "full_pages": {"scheduled": _full_pages(due), "newest": _full_pages(new)},
            "cpu": list_cpu,
        },
        checks=[check("list_page_p99_ms", lat.get("p99"), "<=", 20, "ms")],
        notes=notes,
        server=server.report(),
        valid=valid,
    )
