"""Browser tests: the real `tidings serve` driven by a real Chromium through Playwright.

Chromium is Debian's `chromium` package at /usr/bin/chromium (Playwright never downloads a
browser here). When it is missing and we are root, it is installed with apt-get; otherwise the
tests are skipped with a message saying how to get it, except under CI (`CI` set), where that
is a failure. Screenshots of every page go to `test-artifacts/browser/`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import Server, run_cli

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOW = (
    "install Debian's chromium (`sudo apt-get install -y chromium`) and the test extra"
    " (`pip install -e '.[test]'`, which brings `playwright`)"
)

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}; {HOW}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}; {HOW}")


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=False,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API holds an event loop on this thread
    while it runs, so it is stopped before any asyncio test of another module starts."""
    _ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the python package `playwright` is not installed")
        raise
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh server with accounts alice and bob (shared by one test module)."""
    workdir = tmp_path_factory.mktemp("console")
    database = f"sqlite:///{workdir / 'tidings.db'}"
    run_cli(
        "accounts", "add", "alice", "--password", "alice-secret-pw", "--sender", "AliceCo",
        database=database,
    )  # fmt: skip
    run_cli("accounts", "add", "bob", "--password", "bob-secret-pw", database=database)
    srv = Server(workdir, database)
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


@dataclass
class Console:
    """One signed-out browser context on the console, recording console errors."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    # Chromium logs a document answered with an error status; tests that expect one say so.
    expected_status: set[int] = field(default_factory=set)

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def sign_in(self, username: str = "alice", password: str = "alice-secret-pw") -> None:
        self.go("/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.base + "/")

    def watch(self, page: Any) -> Any:
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        return page

    def new_tab(self) -> Any:
        return self.watch(self.page.context.new_page())

    def real_errors(self) -> list[str]:
        out = []
        for e in self.errors:
            m = re.search(r"status of (\d{3})", e)
            if m and int(m.group(1)) in self.expected_status:
                continue
            out.append(e)
        return out


def _open(browser: Any, server: Server, **context_args: Any) -> Iterator[Console]:
    context = browser.new_context(**context_args)
    c = Console(context.new_page(), server.url)
    c.watch(c.page)
    try:
        yield c
    finally:
        context.close()
    assert not c.real_errors(), f"browser console errors: {c.real_errors()}"


@pytest.fixture
def console(browser: Any, console_server: Server) -> Iterator[Console]:
    yield from _open(browser, console_server)


@pytest.fixture
def phone(browser: Any, console_server: Server) -> Iterator[Console]:
    """The console at phone width (375 px)."""
    yield from _open(
        browser, console_server, viewport={"width": 375, "height": 812}, is_mobile=True
    )
