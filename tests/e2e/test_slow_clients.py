"""Clients that hold a connection without completing a request are cut off (slowloris)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx

from tests.e2e.server import Server, run_cli

HEADER_TIMEOUT_S = 0.5
# uvloop's timers fire on a 1 ms clock of their own: the server's deadline may land up to 1 ms
# before the client's time.monotonic() says it is due (seen: 0.49999 s). Not a slack for lateness.
TIMER_RESOLUTION_S = 0.001


def _server(tmp_path: Path) -> Server:
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=database)
    srv = Server(tmp_path, database, env={"TIDINGS_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S)})
    srv.start()
    return srv


def _port(srv: Server) -> int:
    return httpx.URL(srv.url).port or 80


def test_slow_headers_get_408_and_the_connection_is_closed(tmp_path: Path) -> None:
    srv = _server(tmp_path)
    try:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", _port(srv))) as s:
            s.settimeout(0.1)
            s.sendall(b"POST /v1/omnimessage HTTP/1.1\r\nHost: x\r\n")
            got = b""
            # One header line every 0.1 s would keep it open forever without a deadline.
            while time.monotonic() - started < 20:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break  # closed by the server
                try:
                    chunk = s.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                got += chunk
            took = time.monotonic() - started
        assert got.startswith(b"HTTP/1.1 408 "), got
        assert b'"code":"105"' in got
        assert HEADER_TIMEOUT_S - TIMER_RESOLUTION_S <= took < 20, took
        # A well-behaved client is served as before.
        with srv.client() as c:
            assert c.get("/v1/sandbox/messages").status_code == 200
    finally:
        srv.stop(signal.SIGTERM)


def test_a_connection_that_never_sends_is_closed(tmp_path: Path) -> None:
    srv = _server(tmp_path)
    try:
        started = time.monotonic()  # before the connection: the server's clock starts there
        with socket.create_connection(("127.0.0.1", _port(srv))) as s:
            s.settimeout(20)
            got = s.recv(4096)  # blocks until the server answers or closes
            assert got.startswith(b"HTTP/1.1 408 "), got
            assert time.monotonic() - started >= HEADER_TIMEOUT_S - TIMER_RESOLUTION_S
    finally:
        srv.stop(signal.SIGTERM)
