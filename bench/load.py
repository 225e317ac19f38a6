"""Load generators against 127.0.0.1 only: bulk POSTs; a closed-loop single-POST generator (wrk,
or 2 Python processes of asyncio httpx); many small requests a few at a time."""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.harness import Env, connections, r3, summarize
from bench.rawhttp import RawConnection, RawHttpError, raw_connections

WRK = "/usr/bin/wrk"


# -- bulk -------------------------------------------------------------------------------------


@dataclass
class BulkOutcome:
    requests: int = 0
    items_ok: int = 0
    items_failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    omnimessage_ids: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "messages_accepted": self.items_ok,
            "messages_rejected": self.items_failed,
            "errors": dict(self.errors),
            "elapsed_s": r3(self.elapsed_s),
            "messages_per_s": r3(self.items_ok / self.elapsed_s) if self.elapsed_s else None,
            "request_latency_ms": summarize(self.latencies_ms, (50, 99)),
        }


async def post_bulk(
    env: Env, payloads: list[bytes], concurrency: int, keep_ids: bool = False
) -> BulkOutcome:
    """POST each payload to /v1/omnimessages, `concurrency` at a time."""
    out = BulkOutcome()
    queue = list(reversed(payloads))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            try:
                r = await client.post("/v1/omnimessages", content=body)
            except httpx.HTTPError as exc:
                out.errors[type(exc).__name__] += 1
                continue
            out.latencies_ms.append((time.perf_counter() - t) * 1000)
            out.requests += 1
            if r.status_code != 201:
                out.errors[f"http_{r.status_code}"] += 1
                continue
            for item in orjson.loads(r.content)["messages"]:
                if "omnimessage_id" in item:
                    out.items_ok += 1
                    if keep_ids:
                        out.omnimessage_ids.append(item["omnimessage_id"])
                else:
                    out.items_failed += 1

    async with connections(env, concurrency, request_timeout_s=120) as clients:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in clients))
        out.elapsed_s = time.perf_counter() - t0
    return out


# -- many small requests, a few at a time ------------------------------------------------------


@dataclass
class RequestsOutcome:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, bytes] = field(default_factory=dict)  # path -> body, when kept
    elapsed_s: float = 0.0


async def each_path(
    env: Env,
    method: str,
    paths: list[str],
    concurrency: int,
    keep_bodies: bool = False,
    body: bytes | None = None,
) -> RequestsOutcome:
    """One request per path (all with `body`), `concurrency` closed loops, each on its own
    keep-alive connection (bench/rawhttp.py: the generator must not be the bottleneck)."""
    out = RequestsOutcome()
    queue = list(reversed(paths))

    async def worker(conn: RawConnection) -> None:
        while queue:
            path = queue.pop()
            t = time.perf_counter()
            try:
                status, content = await conn.request(method, path, body or b"")
            except RawHttpError as exc:
                out.statuses[type(exc).__name__] += 1
                continue
            out.latencies_ms.append((time.perf_counter() - t) * 1000)
            out.statuses[str(status)] += 1
            if keep_bodies:
                out.bodies[path] = content

    async with raw_connections(env.server.url, env.headers(), concurrency) as conns:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        out.elapsed_s = time.perf_counter() - t0
    return out


# -- closed-loop single POSTs: Python -----------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    url: str  # full URL of the endpoint
    body: bytes
    headers: dict[str, str]
    connections: int  # per process
    start_at: float  # time.monotonic() (system-wide CLOCK_MONOTONIC) when the warm-up ends
    end_at: float  # ... and when the measured window ends


def _python_worker(spec: LoadSpec) -> dict[str, Any]:
    """One load process: `connections` closed loops, each on its own one-connection client
    (a shared httpx pool costs O(pool size) per request and starves the loop). Only requests
    started after the warm-up and finished inside the window count."""

    async def main() -> dict[str, Any]:
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        created = 0

        async def loop(c: httpx.AsyncClient) -> None:
            nonlocal created
            while (now := time.monotonic()) < spec.end_at:
                t = time.perf_counter()
                try:
                    r = await c.post(spec.url, content=spec.body)
                    code = f"http_{r.status_code}"
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                done = time.monotonic()
                if now >= spec.start_at and done <= spec.end_at:
                    statuses[code] += 1
                    if code == "http_201":
                        created += 1
                        latencies.append((time.perf_counter() - t) * 1000)

        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [
            httpx.AsyncClient(headers=spec.headers, limits=limits, timeout=30)
            for _ in range(spec.connections)
        ]
        try:
            await asyncio.gather(*(loop(c) for c in clients))
        finally:
            for c in clients:
                await c.aclose()
        return {"created": created, "statuses": dict(statuses), "latencies_ms": latencies}

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:  # pragma: no cover
        return asyncio.run(main())


def python_load(
    url: str, body: bytes, headers: dict[str, str], warmup_s: float, duration_s: float
) -> dict[str, Any]:
    """2 processes x 16 closed loops of asyncio httpx; counts what completed in the window."""
    processes, per_process = 2, 16
    start_at = time.monotonic() + 1.0 + warmup_s  # 1 s for the processes to start
    spec = LoadSpec(url, body, headers, per_process, start_at, start_at + duration_s)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        parts = pool.map(_python_worker, [spec] * processes)
    latencies = [x for p in parts for x in p["latencies_ms"]]
    statuses: Counter[str] = Counter()
    for p in parts:
        statuses.update(p["statuses"])
    created = sum(p["created"] for p in parts)
    return {
        "tool": "python",
        "processes": processes,
        "connections": processes * per_process,
        "created_201": created,
        "requests_per_s": r3(created / duration_s),
        "statuses": dict(statuses),
        "errors": sum(v for k, v in statuses.items() if k != "http_201"),
        "latency_ms": summarize(latencies, (50, 99, 99.9)),
    }


# -- closed-loop single POSTs: wrk ---------------------------------------------------------------

_LUA = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
%(headers)s
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  created = 0
  other = 0
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"created\\": %%d, \\"other\\": %%d, \\"requests\\": %%d, \\"duration_us\\": %%d,"
    .. " \\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"status\\": %%d, \\"timeout\\": %%d,"
    .. " \\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"p999_us\\": %%d, \\"max_us\\": %%d}\\n",
    c, o, summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


def wrk_available() -> bool:
    return Path(WRK).exists() and shutil.which(WRK) is not None


def wrk_script(body: bytes, headers: dict[str, str]) -> str:
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    return _LUA % {"body": body.decode(), "headers": lines}


_BENCH_JSON = re.compile(r"^BENCH_JSON (\{.*\})$", re.M)


def parse_wrk(output: str) -> dict[str, Any]:
    m = _BENCH_JSON.search(output)
    if not m:
        raise RuntimeError(f"no BENCH_JSON line in wrk output:\n{output[-2000:]}")
    d: dict[str, Any] = orjson.loads(m.group(1))
    duration_s = d["duration_us"] / 1e6
    # `status` (non-2xx/3xx) is already inside `other` (every non-201).
    errors = d["other"] + d["connect"] + d["read"] + d["write"] + d["timeout"]
    return {
        "tool": "wrk",
        "created_201": d["created"],
        "requests_per_s": r3(d["created"] / duration_s) if duration_s else None,
        "errors": errors,
        "error_detail": {k: d[k] for k in ("other", "connect", "read", "write", "timeout")},
        "latency_ms": {
            "p50": r3(d["p50_us"] / 1000),
            "p99": r3(d["p99_us"] / 1000),
            "p999": r3(d["p999_us"] / 1000),
            "max": r3(d["max_us"] / 1000),
        },
    }


def wrk_load(
    url: str, body: bytes, headers: dict[str, str], warmup_s: float, duration_s: float
) -> dict[str, Any]:
    """wrk -t2 -c32: a warm-up run, then the measured run; 201s counted by a Lua hook."""
    with tempfile.TemporaryDirectory(prefix="tidings-wrk-") as d:
        script = Path(d) / "post.lua"
        script.write_text(wrk_script(body, headers))
        base = [WRK, "-t2", "-c32", "--latency", "-s", str(script)]
        subprocess.run(
            [*base, f"-d{max(1, round(warmup_s))}s", url],
            capture_output=True,
            text=True,
            timeout=warmup_s + 60,
            check=True,
        )
        proc = subprocess.run(
            [*base, f"-d{round(duration_s)}s", url],
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
            check=True,
        )
    out = parse_wrk(proc.stdout)
    out.update({"threads": 2, "connections": 32})
    return out
