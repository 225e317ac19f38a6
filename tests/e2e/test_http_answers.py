"""Answers on the wire, read from a raw socket: each complete and in order on one keep-alive
connection (the head and body of an answer leave together, see tidings/http_server.py), HEAD
without a body, `Expect: 100-continue` answered before the body is sent."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import httpx
import orjson

from tests.e2e.server import Server, run_cli

AUTH = "Basic " + base64.b64encode(b"alice:alice-secret-pw").decode()
BODY = orjson.dumps({"to": "+37251000001", "messages": [{"channel": "sms", "text": "hi"}]})


def _server(tmp_path: Path) -> Server:
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=database)
    srv = Server(tmp_path, database)
    srv.start()
    return srv


class _Reader:
    """Reads whole HTTP/1.1 answers (Content-Length framed) off a socket."""

    def __init__(self, s: socket.socket) -> None:
        self._s = s
        self._buf = b""

    def _fill(self) -> None:
        chunk = self._s.recv(65536)
        assert chunk, "the server closed the connection"
        self._buf += chunk

    def answer(self, *, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self._buf:
            self._fill()
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
        length = 0 if head_only else int(headers.get("content-length", "0"))
        while len(self._buf) < length:
            self._fill()
        body, self._buf = self._buf[:length], self._buf[length:]
        return status, headers, body

    def pending(self) -> bytes:
        return self._buf


def test_answers_on_one_keep_alive_connection(tmp_path: Path) -> None:
    srv = _server(tmp_path)
    try:
        port = httpx.URL(srv.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            r = _Reader(s)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = r.answer()
            assert status == 200 and len(body) == int(headers["content-length"]) > 0

            s.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, _ = r.answer(head_only=True)
            assert status == 200 and int(headers["content-length"]) > 0

            # 100 Continue first; the body only after it, then the 201.
            s.sendall(
                b"POST /v1/omnimessage HTTP/1.1\r\nHost: x\r\nAuthorization: "
                + AUTH.encode()
                + b"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                + b"Content-Length: "
                + str(len(BODY)).encode()
                + b"\r\n\r\n"
            )
            status, _, _ = r.answer(head_only=True)
            assert status == 100
            s.sendall(BODY)
            status, headers, body = r.answer()
            assert status == 201, body
            assert orjson.loads(body)["messages"][0]["channel"] == "sms"

            # Two requests in one send: two answers, in order, nothing more.
            s.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /v1/omnimessage/nope HTTP/1.1\r\nHost: x\r\nAuthorization: "
                + AUTH.encode()
                + b"\r\n\r\n"
            )
            assert r.answer()[0] == 200
            status, _, body = r.answer()
            assert status == 404 and b"errors" in body
            assert r.pending() == b""
    finally:
        srv.stop()
