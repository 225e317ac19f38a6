"""A throwaway PostgreSQL server of a test's own, for faults that must not touch the shared one
(stopping it, crash-restarting it).

`initdb` into a temporary directory, `pg_ctl start` on a free port with trust auth; both
refuse to run as root, so as root every command runs as the `postgres` user (which then owns
the directory).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from tests.e2e.server import free_port


def find_bindir() -> Path | None:
    """Where `initdb` and `pg_ctl` are: `$TIDINGS_TEST_PG_BINDIR`, the newest Debian-style
    /usr/lib/postgresql/*/bin, or the PATH."""
    given = os.environ.get("TIDINGS_TEST_PG_BINDIR")
    candidates = [Path(given)] if given else []
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    if (on_path := shutil.which("pg_ctl")) is not None:
        candidates.append(Path(on_path).parent)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file():
            return c
    return None


class PgInstance:
    """One PostgreSQL server in its own directory; `url()` names a database on it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"\n{self.log()[-3000:]}"
            )
        return done

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.log_path), "-o", opts
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", mode)

    def running(self) -> bool:
        cmd = [str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, timeout=30, check=False).returncode == 0

    def remove(self) -> None:
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        async def go() -> None:
            conn = await asyncpg.connect(self.url(), timeout=10)
            try:
                await conn.execute(f"CREATE DATABASE {name}")
            finally:
                await conn.close()

        asyncio.run(go())
        return self.url(name)

    def log(self) -> str:
        try:
            return self.log_path.read_text()
        except OSError:
            return ""
