"""What every benchmark shares: a fresh database, a real server process, reading the database,
percentiles, target checks and the result document.

Each benchmark gets a database of its own (a SQLite file in a temporary directory, or a freshly
created PostgreSQL database `tidings_bench_<pid>` that is dropped afterwards), a fresh account,
and a real `python -m tidings.cli serve` process on a free port of 127.0.0.1, stopped with
SIGTERM at the end. Figures are read from the database rows the server wrote wherever possible,
so the measurement is the server's own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import os
import platform
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

TIDINGS = [sys.executable, "-m", "tidings.cli"]
ADMIN_URL_ENV = "TIDINGS_BENCH_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")
USERNAME = "bench"
PASSWORD = "bench-secret-password"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def log(msg: str) -> None:
    """Progress goes to stderr: stdout carries only the JSON document."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- time ------------------------------------------------------------------------------------


def now_us() -> int:
    return time.time_ns() // 1000


def iso_us(us: int) -> str:
    """An aware ISO 8601 string for UTC microseconds, exact (no float on the way)."""
    return (EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds")


# -- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of already sorted values, linear between closest ranks."""
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    k = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo))


def summarize(values: Iterable[float], qs: Sequence[float] = (50, 99, 99.9)) -> dict[str, Any]:
    """count, min, p50, p99, p999, max, mean of a sample (same unit as the input)."""
    v = sorted(values)
    out: dict[str, Any] = {"count": len(v)}
    if not v:
        return out
    out["min"] = r3(v[0])
    for q in qs:
        out[f"p{q:g}".replace(".", "")] = r3(percentile(v, q))
    out["max"] = r3(v[-1])
    out["mean"] = r3(sum(v) / len(v))
    return out


def r3(x: float) -> float:
    return round(float(x), 3)


def check(
    name: str, value: float | None, op: str, target: float, unit: str, aim: float | None = None
) -> dict[str, Any]:
    """A figure beside its target (DESIGN.md section 4). `met` is false when there is no figure."""
    has = value is not None and not math.isnan(value)
    out: dict[str, Any] = {
        "figure": name,
        "value": r3(value) if value is not None and has else None,
        "unit": unit,
        "target": f"{op} {target}",
        "met": has and value is not None and _cmp(value, op, target),
    }
    if aim is not None:
        out["aim"] = f"{op} {aim}"
        out["aim_met"] = has and value is not None and _cmp(value, op, aim)
    return out


def _cmp(value: float, op: str, target: float) -> bool:
    if op == "<=":
        return value <= target
    if op == ">=":
        return value >= target
    if op == "==":
        return value == target
    raise ValueError(f"unknown comparison {op!r}")


# -- databases --------------------------------------------------------------------------------


@dataclass
class Database:
    backend: str  # "sqlite" | "postgresql"
    url: str  # what `tidings --database` takes
    sqlite_path: Path | None = None
    pg_name: str | None = None


def _admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def _pg_url(dbname: str) -> str:
    base = _admin_url().rsplit("/", 1)[0]
    return f"{base}/{dbname}"


@contextlib.asynccontextmanager
async def fresh_database(backend: str, workdir: Path) -> AsyncIterator[Database]:
    """A new, empty database; removed afterwards."""
    if backend == "sqlite":
        path = workdir / f"bench-{time.time_ns()}.db"
        yield Database("sqlite", f"sqlite:///{path}", sqlite_path=path)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    import asyncpg  # type: ignore[import-untyped]

    name = f"tidings_bench_{os.getpid()}"
    admin = await asyncpg.connect(_admin_url(), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield Database("postgresql", _pg_url(name), pg_name=name)
    finally:
        admin = await asyncpg.connect(_admin_url(), timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _cli(*args: str, database: str, cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        *TIDINGS,
        *args,
        "--database",
        database,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"tidings {' '.join(args)}: timed out") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"tidings {' '.join(args)} failed ({proc.returncode}):\n{text}")
    return text


@dataclass
class Account:
    username: str
    password: str
    id: int

    @property
    def auth_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


async def prepare(db: Database, workdir: Path) -> Account:
    """Migrate the schema and create the benchmark account (through the real CLI)."""
    await _cli("migrate", database=db.url, cwd=workdir)
    await _cli("accounts", "add", USERNAME, "--password", PASSWORD, database=db.url, cwd=workdir)
    async with DbReader.connect(db) as reader:
        acct_id = await reader.fetchval("SELECT id FROM accounts WHERE username = $1", USERNAME)
    return Account(USERNAME, PASSWORD, int(acct_id))


_PARAM = re.compile(r"\$(\d+)")


class DbReader:
    """The benchmark's own connection to the server's database, for reading what it wrote.

    SQL is written PostgreSQL-style (`$1`); for SQLite it becomes `?1`.
    """

    def __init__(self, db: Database, conn: Any) -> None:
        self.db = db
        self._conn = conn

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, db: Database) -> AsyncIterator[DbReader]:
        if db.backend == "sqlite":
            assert db.sqlite_path is not None
            conn = sqlite3.connect(db.sqlite_path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            try:
                yield cls(db, conn)
            finally:
                conn.close()
        else:
            import asyncpg

            pg = await asyncpg.connect(db.url, timeout=10)
            try:
                yield cls(db, pg)
            finally:
                await pg.close()

    async def fetch(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        if self.db.backend == "sqlite":
            q = _PARAM.sub(lambda m: f"?{m.group(1)}", sql)
            conn = self._conn
            rows = await asyncio.to_thread(lambda: conn.execute(q, args).fetchall())
            return [tuple(r) for r in rows]
        return [tuple(r) for r in await self._conn.fetch(sql, *args)]

    async def fetchval(self, sql: str, *args: object) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    async def timed(self, sql: str, *args: object, repeat: int = 5) -> dict[str, Any]:
        """Run a read-only query `repeat` times; its median and max duration in ms."""
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            await self.fetch(sql, *args)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        return {"median_ms": r3(percentile(times, 50)), "max_ms": r3(times[-1])}


# -- the server process -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process in MB (1 MB = 2^20 bytes)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return r3(int(line.split()[1]) / 1024)
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by the server and by this (client) process over a phase, in % of one core."""

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid
        self._t0 = time.monotonic()
        self._server0 = cpu_s(server_pid) or 0.0
        self._client0 = time.process_time()

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self._t0, 1e-9)
        server = (cpu_s(self._pid) or self._server0) - self._server0
        client = time.process_time() - self._client0
        return {
            "wall_s": r3(wall),
            "server_cpu_pct": r3(100 * server / wall),
            "client_cpu_pct": r3(100 * client / wall),
        }


def server_env() -> dict[str, str]:
    """The benchmarks measure the server's capacity for one account, above the default per-account
    rate limit: they raise it (the limiter still runs on every request), unless told otherwise."""
    return {"TIDINGS_RATE_PER_SECOND": "1000000", **os.environ}


@dataclass
class ServerProcess:
    """`python -m tidings.cli serve` on a free 127.0.0.1 port."""

    db: Database
    workdir: Path
    port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ()  # more `serve` options
    proc: asyncio.subprocess.Process | None = None
    log_path: Path | None = None
    startup_s: float | None = None
    exit_code: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, limit_s: float = 60.0) -> None:
        self.log_path = self.workdir / f"server-{self.port}-{time.time_ns()}.log"
        with self.log_path.open("wb") as out:
            t0 = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(
                *TIDINGS,
                "serve",
                "--port",
                str(self.port),
                "--database",
                self.db.url,
                *self.args,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=server_env(),
            )
        deadline = t0 + limit_s
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"server exited early:\n{self.log_tail()}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        self.startup_s = r3(time.monotonic() - t0)
                        log(f"server pid {self.pid} up on {self.url} in {self.startup_s} s")
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        await self.kill()
        raise RuntimeError(f"server did not start within {limit_s} s:\n{self.log_tail()}")

    async def stop(self, limit_s: float = 60.0) -> int | None:
        """SIGTERM, then wait; SIGKILL if it does not exit in time (exit code then None)."""
        if self.proc is None:
            return self.exit_code
        proc, self.proc = self.proc, None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), limit_s)
            except TimeoutError:
                log(f"server pid {proc.pid} ignored SIGTERM for {limit_s} s: SIGKILL")
                proc.kill()
                await proc.wait()
                self.exit_code = None
                return None
        self.exit_code = proc.returncode
        return self.exit_code

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.proc = None

    def rss_mb(self) -> float | None:
        return rss_mb(self.pid)

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def report(self) -> dict[str, Any]:
        text = self.log_text()
        problems = [
            ln
            for ln in text.splitlines()
            if " ERROR " in ln or " WARNING " in ln or "Traceback" in ln or " CRITICAL " in ln
        ]
        out: dict[str, Any] = {
            "startup_s": self.startup_s,
            "exit_code": self.exit_code,
            "clean_exit": self.exit_code == 0,
            "log_problem_lines": len(problems),
        }
        if problems:
            out["log_problems_sample"] = problems[:10]
        return out


@dataclass
class Env:
    """One benchmark's world: database, account, server, a reader, a work directory."""

    backend: str
    workdir: Path
    db: Database
    account: Account
    server: ServerProcess
    reader: DbReader

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.account.auth_header, "Content-Type": "application/json"}

    def client(self, max_connections: int = 8, timeout: float = 30.0) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        return httpx.AsyncClient(
            base_url=self.server.url, headers=self.headers(), limits=limits, timeout=timeout
        )


@contextlib.asynccontextmanager
async def connections(
    env: Env, n: int, request_timeout_s: float = 30.0
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`n` one-connection clients, each already connected (GET /healthz), so neither building a
    client (it sets up an SSL context, ~20 ms) nor connecting lands in a timed request."""
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                env.client(max_connections=1, timeout=request_timeout_s)
            )
            for _ in range(n)
        ]
        await asyncio.gather(*(c.get("/healthz") for c in clients))
        yield clients


@contextlib.asynccontextmanager
async def workspace() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tidings-bench-") as d:
        yield Path(d)


@contextlib.asynccontextmanager
async def environment(
    backend: str,
    workdir: Path,
    before_start: Callable[[Database, Account], Awaitable[Any]] | None = None,
    start_limit_s: float = 60.0,
) -> AsyncIterator[Env]:
    """Fresh database + account + running server; stops and drops everything on exit.

    `before_start` runs on the migrated database with its account, before the server starts."""
    async with fresh_database(backend, workdir) as db:
        account = await prepare(db, workdir)
        if before_start is not None:
            await before_start(db, account)
        server = ServerProcess(db, workdir)
        try:
            await server.start(start_limit_s)
            async with DbReader.connect(db) as reader:
                yield Env(backend, workdir, db, account, server, reader)
        finally:
            if server.proc is not None:
                code = await server.stop()
                log(f"server stopped, exit code {code}")


async def warm_auth(env: Env) -> None:
    """One authenticated request, so the password check (argon2, cached after) is not timed."""
    async with env.client() as c:
        r = await c.get("/v1/sandbox/messages", params={"limit": "1"})
        if r.status_code != 200:
            raise RuntimeError(f"warm-up request failed: {r.status_code} {r.text[:200]}")


async def wait_until(
    condition: Any, limit_s: float, interval: float = 0.2, what: str = "condition"
) -> float | None:
    """Poll an async predicate until true (returns seconds waited) or `limit_s` (None)."""
    t0 = time.monotonic()
    while True:
        if await condition():
            return time.monotonic() - t0
        if time.monotonic() - t0 > limit_s:
            log(f"gave up waiting for {what} after {limit_s} s")
            return None
        await asyncio.sleep(interval)


# -- /metrics ---------------------------------------------------------------------------------


def parse_histogram(metrics_text: str, name: str) -> dict[str, Any]:
    """count, sum and cumulative buckets of a Prometheus histogram from the text exposition."""
    buckets: list[tuple[float, float]] = []
    count = total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}_bucket"):
            m = re.search(r'le="([^"]+)"\}\s+(\S+)', line)
            if m:
                buckets.append((float(m.group(1)), float(m.group(2))))
        elif line.startswith(f"{name}_count"):
            count = float(line.split()[-1])
        elif line.startswith(f"{name}_sum"):
            total = float(line.split()[-1])
    buckets.sort()
    return {"count": count, "sum": total, "buckets": buckets}


def bucket_quantile_le(hist: dict[str, Any], q: float) -> float | None:
    """The upper bound of the bucket holding the q-th percentile (a Prometheus-style bound)."""
    count = hist["count"]
    if not count:
        return None
    rank = count * q / 100.0
    for le, cum in hist["buckets"]:
        if cum >= rank:
            return float(le)
    return None


async def server_lateness_histogram(env: Env) -> dict[str, Any]:
    """The server's own `tidings_lateness_seconds` view (clamped at 0, so it cannot show early)."""
    async with env.client() as c:
        text = (await c.get("/metrics")).text
    h = parse_histogram(text, "tidings_lateness_seconds")

    def ms(x: float | None) -> float | None:
        return None if x is None or math.isinf(x) else r3(x * 1000)

    return {
        "count": int(h["count"]),
        "mean_ms": r3(h["sum"] / h["count"] * 1000) if h["count"] else None,
        "p50_bucket_le_ms": ms(bucket_quantile_le(h, 50)),
        "p99_bucket_le_ms": ms(bucket_quantile_le(h, 99)),
    }


# -- the result document ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@dataclass
class Run:
    """One benchmark run: when it started and how loaded the machine was then."""

    name: str
    backend: str
    quick: bool
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    loadavg_start: float = field(default_factory=lambda: r3(os.getloadavg()[0]))

    def finish(
        self,
        params: dict[str, Any],
        results: dict[str, Any],
        checks: list[dict[str, Any]],
        notes: list[str],
        server: dict[str, Any] | None = None,
        valid: bool = True,
    ) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "backend": self.backend,
            "quick": self.quick,
            "started_at": self.started.isoformat(timespec="seconds"),
            "duration_s": r3((datetime.now(UTC) - self.started).total_seconds()),
            "valid": valid,
            "all_met": bool(valid and checks and all(c["met"] for c in checks)),
            "checks": checks,
            "params": params,
            "results": results,
            "server": server or {},
            "machine": {
                **machine(),
                "loadavg_1m_start": self.loadavg_start,
                "loadavg_1m_end": r3(os.getloadavg()[0]),
            },
            "notes": notes,
        }
