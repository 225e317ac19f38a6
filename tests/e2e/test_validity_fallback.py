"""A channel that cannot deliver within its validity falls back in time, whatever its connector
keeps answering: the real `tidings serve` with WhatsApp routed to a closed port (connection
refused: "retry later", forever) and with SMS routed to an SMSC that throttles forever."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.server import Server, free_port, run_cli
from tests.peers.py_smsc import PASSWORD, SYSTEM_ID, PySmsc
from tests.waiting import wait_until

TTL_S = 5


def _wait(cond: Callable[[], bool], what: str, within: float = 30.0) -> None:
    wait_until(cond, what, within)


@contextmanager
def smsc_in_thread() -> Iterator[PySmsc]:
    """The Python SMSC peer on its own event loop in a background thread."""
    peer = PySmsc()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(peer.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "SMSC peer did not start"
    try:
        yield peer
    finally:
        asyncio.run_coroutine_threadsafe(peer.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _serve(tmp_path: Path, config: str) -> Server:
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=database)
    path = tmp_path / "tidings.toml"
    path.write_text(config)
    srv = Server(tmp_path, database, env={"TIDINGS_CONFIG": str(path)})
    srv.start()
    return srv


def _send_and_watch(srv: Server, to: str, messages: list[dict[str, Any]]) -> None:
    """Send now; the first channel must end EXPIRED/2 no later than its validity (+ 1 s) after
    it was first handed over, and the second must deliver."""
    with srv.client() as c:
        before = time.time()
        r = c.post("/v1/omnimessage", json={"to": to, "messages": messages})
        assert r.status_code == 201, r.text
        omni = r.json()["omnimessage_id"]

        def statuses() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = c.get(f"/v1/omnimessage/{omni}/status").json()["statuses"]
            return got

        _wait(lambda: statuses()[1]["status"] == "DELIVRD", "the fallback's delivery")
        first, second = statuses()
        assert (first["status"], first["err"]) == ("EXPIRED", 2), first
        expired_at = datetime.fromisoformat(first["timestamp"]).timestamp()
        # The first hand-over came after `before`: this bounds the expiry from above.
        assert expired_at - before <= TTL_S + 1.0, (expired_at - before, first)
        assert second["channel"] != first["channel"]


def test_provider_down_expires_at_validity_and_falls_back(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here: every connection is refused
    srv = _serve(
        tmp_path,
        f"""
[connectors.wa]
type = "whatsapp"
base_url = "http://127.0.0.1:{closed}"
phone_number_id = "1055"
access_token = "token"
app_secret = "secret"
verify_token = "verify-me"
backoff_base_s = 0.5

[routes]
whatsapp = "wa"
""",
    )
    try:
        _send_and_watch(
            srv,
            "+37251000501",
            [
                {"channel": "whatsapp", "text": {"body": "Hi"}, "ttl": TTL_S},
                {"channel": "sms", "text": "Hi by SMS"},
            ],
        )
    finally:
        srv.stop(signal.SIGTERM)


@contextmanager
def hanging_provider() -> Iterator[int]:
    """A TCP server that accepts every connection, reads, and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for c in held:
            c.close()
        server.close()


def test_provider_that_never_answers_expires_at_validity_and_falls_back(tmp_path: Path) -> None:
    with hanging_provider() as port:
        srv = _serve(
            tmp_path,
            f"""
[connectors.wa]
type = "whatsapp"
base_url = "http://127.0.0.1:{port}"
phone_number_id = "1055"
access_token = "token"
app_secret = "secret"
verify_token = "verify-me"
timeout_s = 60

[routes]
whatsapp = "wa"
""",
        )
        try:
            _send_and_watch(
                srv,
                "+37251000502",
                [
                    {"channel": "whatsapp", "text": {"body": "Hi"}, "ttl": TTL_S},
                    {"channel": "sms", "text": "Hi by SMS"},
                ],
            )
        finally:
            srv.stop(signal.SIGTERM)


def test_smsc_throttling_forever_expires_at_validity_and_falls_back(tmp_path: Path) -> None:
    with smsc_in_thread() as peer:
        srv = _serve(
            tmp_path,
            f"""
[connectors.smsc]
type = "smpp"
host = "127.0.0.1"
port = {peer.port}
system_id = "{SYSTEM_ID}"
password = "{PASSWORD}"

[routes]
sms = "smsc"
""",
        )
        try:
            _send_and_watch(
                srv,
                "+37255580001",  # the peer throttles this prefix forever
                [
                    {"channel": "sms", "text": "Hi by SMS", "ttl": TTL_S},
                    {"channel": "whatsapp", "text": {"body": "Hi on WhatsApp"}},
                ],
            )
            assert len(peer.submits()) >= 2  # it was tried, and given up on in time
        finally:
            srv.stop(signal.SIGTERM)
