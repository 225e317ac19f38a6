"""Run the real `tidings serve` process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TIDINGS = [sys.executable, "-m", "tidings.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str, database: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIDINGS, *args, "--database", database],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


@dataclass
class Server:
    """A `tidings serve` process on a free port, restartable on the same database."""

    workdir: Path
    database: str
    username: str = "alice"
    password: str = "alice-secret-pw"
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # more `serve` options
    proc: subprocess.Popen[str] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def start(self, timeout: float = 20.0) -> None:
        self.log_path = self.workdir / f"server-{self.port}-{time.time_ns()}.log"
        log = self.log_path.open("w")
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            [*TIDINGS, "serve", "--port", str(self.port), "--database", self.database, *self.args],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=10, **kw)
