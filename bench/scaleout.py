"""Scale-out on PostgreSQL (issue 14): accept and burst with 1, 2 and 4 processes.

For each process count, a fresh database and that many `tidings serve --reuse-port` processes
sharing one port (each also dispatches: every process is a full gateway), then, as in `accept`
and `burst`:

- single POSTs from wrk (32 connections, which the kernel spreads over the processes);
- bulk POSTs of 1 000 messages, 4 at a time;
- a burst: messages due at one instant (100 000; quick: 20 000), until every one is handed over.

Each phase records the machine's CPU (all cores, from /proc/stat) and the Tidings processes'
own, so the table shows what bounds each figure on this machine: the 2 cores are shared by the
processes, PostgreSQL and the load generator. PostgreSQL only: several SQLite processes share
one writer lock, so more processes cannot write more.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench import bodies
from bench.burst import burst
from bench.harness import (
    Account,
    Database,
    DbReader,
    Env,
    Run,
    ServerProcess,
    check,
    cpu_s,
    free_port,
    fresh_database,
    iso_us,
    log,
    now_us,
    prepare,
    r3,
    wait_until,
    warm_auth,
    workspace,
)
from bench.load import post_bulk, python_load, wrk_available, wrk_load

NAME = "scaleout"
COUNTS = (1, 2, 4)
WARMUP_S = 2.0
BULK_SIZE = 1000
BULK_CONCURRENCY = 4
DAY_US = 86_400_000_000


def _listeners(port: int) -> int:
    """Sockets listening on `port` (each `--reuse-port` process binds its own)."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    n += 1
    return n


def _machine_busy_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    ticks = 100.0  # USER_HZ
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / ticks, total / ticks


class Meter:
    """CPU over a phase: the whole machine's (in % of all its cores) and the processes'."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self._t0 = time.monotonic()
        self._machine0 = _machine_busy_s()
        self._procs0 = sum(cpu_s(p) or 0.0 for p in pids)

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self._t0, 1e-9)
        busy, total = _machine_busy_s()
        procs = sum(cpu_s(p) or 0.0 for p in self._pids) - self._procs0
        return {
            "wall_s": r3(wall),
            "machine_busy_pct": r3(100 * (busy - self._machine0[0]) / (total - self._machine0[1])),
            "tidings_cpu_cores": r3(procs / wall),
        }


@contextlib.asynccontextmanager
async def _processes(
    db: Database, workdir: Path, account: Account, count: int
) -> AsyncIterator[tuple[Env, list[ServerProcess]]]:
    port = free_port()
    servers = [ServerProcess(db, workdir, port=port, args=("--reuse-port",)) for _ in range(count)]
    try:
        for s in servers:
            await s.start()

        async def all_listening() -> bool:
            return _listeners(port) >= count

        if (
            await wait_until(all_listening, 30, interval=0.05, what="every process listening")
            is None
        ):
            raise RuntimeError(f"only {_listeners(port)} of {count} processes listen on {port}")
        async with DbReader.connect(db) as reader:
            yield Env("postgresql", workdir, db, account, servers[0], reader), servers
    finally:
        for s in servers:
            if s.proc is not None:
                await s.stop()


async def _case(count: int, quick: bool) -> dict[str, Any]:
    duration_s = 5.0 if quick else 15.0
    bulk_requests = 10 if quick else 40
    n_burst = 20_000 if quick else 100_000
    async with (
        workspace() as wd,
        fresh_database("postgresql", wd) as db,
    ):
        account = await prepare(db, wd)
        async with _processes(db, wd, account, count) as (env, servers):
            pids = [s.pid for s in servers]
            await warm_auth(env)
            tts = iso_us(now_us() + DAY_US)
            body = bodies.dumps(bodies.sms_viber(0, tts))
            log(f"{NAME} x{count}: single POSTs for {WARMUP_S} s + {duration_s} s")
            load = wrk_load if wrk_available() else python_load
            meter = Meter(pids)
            single = await asyncio.to_thread(
                load, f"{env.server.url}/v1/omnimessage", body, env.headers(), WARMUP_S, duration_s
            )
            single["cpu"] = meter.read()

            log(f"{NAME} x{count}: bulk, {bulk_requests} x {BULK_SIZE}")
            payloads = [
                bodies.bulk([bodies.sms_viber(r * BULK_SIZE + i, tts) for i in range(BULK_SIZE)])
                for r in range(bulk_requests + 1)
            ]
            await post_bulk(env, payloads[:1], 1)  # warm-up
            meter = Meter(pids)
            bulk = await post_bulk(env, payloads[1:], BULK_CONCURRENCY)
            bulk_summary = {**bulk.summary(), "cpu": meter.read()}

            log(f"{NAME} x{count}: burst of {n_burst}")
            meter = Meter(pids)
            b = await burst(env, n_burst)
            burst_cpu = meter.read()
            reports = [s.report() for s in servers]
        clean = all(s.exit_code == 0 for s in servers)
    return {
        "processes": count,
        "single": single,
        "bulk": bulk_summary,
        "burst": {
            "messages": n_burst,
            "valid": b.valid,
            "problems": b.problems(),
            "insert_msg_per_s": r3(b.inserted.items_ok / b.inserted.elapsed_s)
            if b.inserted.elapsed_s
            else None,
            "all_handed_over_s": r3(b.all_sent_s) if b.all_sent_s is not None else None,
            "all_received_by_connector_s": r3(b.all_received_s)
            if b.all_received_s is not None
            else None,
            "cpu": burst_cpu,
        },
        "servers": reports,
        "clean_exit": clean,
    }


def _row(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "processes": case["processes"],
        "single_requests_per_s": case["single"].get("requests_per_s"),
        "single_p50_ms": case["single"].get("latency_ms", {}).get("p50"),
        "single_machine_busy_pct": case["single"]["cpu"]["machine_busy_pct"],
        "bulk_msg_per_s": case["bulk"].get("messages_per_s"),
        "burst_all_handed_over_s": case["burst"]["all_handed_over_s"],
        "burst_machine_busy_pct": case["burst"]["cpu"]["machine_busy_pct"],
    }


async def run(backend: str, quick: bool) -> dict[str, Any]:
    run = Run(NAME, backend, quick)
    if backend != "postgresql":
        return run.finish(
            params={},
            results={},
            checks=[],
            notes=["scale-out is measured on PostgreSQL only (SQLite has one writer)"],
            valid=False,
        )
    cases = [await _case(count, quick) for count in COUNTS]
    table = [_row(c) for c in cases]
    valid = all(c["burst"]["valid"] and c["clean_exit"] for c in cases)
    best = max((r["single_requests_per_s"] or 0 for r in table), default=0)
    return run.finish(
        params={
            "process_counts": list(COUNTS),
            "single": "wrk -t2 -c32, SMS then Viber, time_to_send a day ahead",
            "bulk": f"{BULK_SIZE} per request, {BULK_CONCURRENCY} at a time",
            "burst_messages": cases[0]["burst"]["messages"],
        },
        results={"table": table, "cases": cases},
        checks=[check("best_single_requests_per_s", best, ">=", 5000, "req/s")],
        notes=[
            "every process is `tidings serve --reuse-port` on one port and one database; the"
            " load generator, PostgreSQL and the processes share this machine's cores",
            "machine_busy_pct is all cores (100 = every core busy); tidings_cpu_cores is the"
            " processes' CPU in cores",
        ],
        valid=valid,
    )
