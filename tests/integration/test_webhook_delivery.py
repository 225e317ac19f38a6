"""Webhook delivery against a real HTTP receiver on 127.0.0.1 (never any other address).

The receiver is a few lines of raw HTTP/1.1 over ``asyncio.start_server`` (keep-alive, optional
TLS), so every byte the client sends is observable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from standardwebhooks import Webhook

from tidings.webhooks.delivery import WebhookClient, post_webhook
from tidings.webhooks.guard import LOOPBACK, TargetPolicy
from tidings.webhooks.signing import USER_AGENT, sign_headers, standard_webhooks_secret

SECRET = secrets.token_hex(32)
BODY = orjson.dumps({"status": "DELIVRD", "message_id": "m-1", "to": "+3725555555", "err": 0})
TESTS = TargetPolicy(allow=LOOPBACK)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int


@dataclass
class Receiver:
    requests: list[Received] = field(default_factory=list)
    connections: int = 0
    active: int = 0
    max_active: int = 0
    sni: list[str | None] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = self.connections
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(method, path, headers, body, conn))
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                try:
                    await self.respond(path, writer)
                finally:
                    self.active -= 1
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def respond(self, path: str, writer: asyncio.StreamWriter) -> None:
        status, extra, body = 200, "", b"ok"
        if path == "/fail":
            status = 500
        elif path == "/gone":
            status = 410
        elif path == "/redirect":
            status, extra = 302, f"Location: http://127.0.0.1:{self.port}/ok\r\n"
        elif path == "/retry":
            status, extra = 503, "Retry-After: 7\r\n"
        elif path == "/cookie":
            extra = "Set-Cookie: session=abc123; Path=/\r\n"
        elif path == "/busy":
            await asyncio.sleep(0.05)
        elif path == "/big":
            body = b"x" * 1_000_000
        elif path == "/slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 5)
        elif path == "/slowbody":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 5)
            raise ConnectionError("done")
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
        )
        await writer.drain()


@contextlib.asynccontextmanager
async def serve(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    if ssl_context is not None:

        def on_sni(obj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
            receiver.sni.append(name)

        ssl_context.sni_callback = on_sni
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0, ssl=ssl_context)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.01)  # let handlers see the release


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve() as r:
        yield r


@pytest.fixture
async def client() -> AsyncIterator[WebhookClient]:
    async with WebhookClient(TESTS, timeout_s=5.0) as c:
        yield c


def headers() -> dict[str, str]:
    return sign_headers(SECRET, "msg_1", int(time.time()), BODY)


def assert_signed(req: Received) -> None:
    """What a receiver does: check both signatures over the raw body."""
    expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req.headers["x-messente-signature"], expected)
    assert Webhook(standard_webhooks_secret(SECRET)).verify(req.body, req.headers) == orjson.loads(
        BODY
    )


async def test_200_is_delivered_and_both_signatures_verify(
    receiver: Receiver, client: WebhookClient
) -> None:
    res = await post_webhook(client, receiver.url("/ok"), BODY, headers())
    assert (res.ok, res.status_code, res.error) == (True, 200, None)
    assert not res.gone and not res.blocked
    assert res.duration_ms > 0
    (req,) = receiver.requests
    assert (req.method, req.path, req.body) == ("POST", "/ok", BODY)
    assert req.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"] == USER_AGENT
    assert req.headers["webhook-id"] == "msg_1"
    assert_signed(req)


async def test_host_name_target_keeps_its_host_header(
    receiver: Receiver, client: WebhookClient
) -> None:
    res = await client.post(receiver.url("/ok", host="localhost"), BODY, headers())
    assert res.ok
    assert receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"
    assert_signed(receiver.requests[0])


async def test_500_is_not_delivered(receiver: Receiver, client: WebhookClient) -> None:
    res = await client.post(receiver.url("/fail"), BODY, headers())
    assert (res.ok, res.status_code, res.gone, res.blocked) == (False, 500, False, False)
    assert res.error == "HTTP 500"


async def test_410_is_gone(receiver: Receiver, client: WebhookClient) -> None:
    res = await client.post(receiver.url("/gone"), BODY, headers())
    assert (res.ok, res.status_code, res.gone) == (False, 410, True)


async def test_503_retry_after_is_reported(receiver: Receiver, client: WebhookClient) -> None:
    res = await client.post(receiver.url("/retry"), BODY, headers())
    assert (res.ok, res.status_code, res.retry_after_s) == (False, 503, 7.0)


async def test_302_is_delivered_and_not_followed(receiver: Receiver, client: WebhookClient) -> None:
    res = await client.post(receiver.url("/redirect"), BODY, headers())
    assert (res.ok, res.status_code) == (True, 302)
    await asyncio.sleep(0.05)
    assert [r.path for r in receiver.requests] == ["/redirect"]


async def test_slow_receiver_times_out(receiver: Receiver, client: WebhookClient) -> None:
    t0 = time.monotonic()
    res = await client.post(receiver.url("/slow"), BODY, headers(), timeout_s=0.3)
    assert time.monotonic() - t0 < 2.0
    assert (res.ok, res.status_code, res.blocked) == (False, None, False)
    assert res.error is not None and res.error.startswith("timeout")
    # the client is still usable afterwards
    assert (await client.post(receiver.url("/ok"), BODY, headers())).ok


async def test_status_counts_even_if_the_body_trickles(
    receiver: Receiver, client: WebhookClient
) -> None:
    t0 = time.monotonic()
    res = await client.post(receiver.url("/slowbody"), BODY, headers(), timeout_s=0.3)
    assert time.monotonic() - t0 < 2.0
    assert (res.ok, res.status_code) == (True, 200)


async def test_large_response_body_is_not_read_in_full(
    receiver: Receiver, client: WebhookClient
) -> None:
    res = await client.post(receiver.url("/big"), BODY, headers())
    assert (res.ok, res.status_code) == (True, 200)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_connection_refused_is_an_error(client: WebhookClient) -> None:
    res = await client.post(f"http://127.0.0.1:{free_port()}/ok", BODY, headers())
    assert (res.ok, res.status_code, res.blocked, res.gone) == (False, None, False, False)
    assert res.error is not None and res.error.startswith("connection failed")


async def test_loopback_is_blocked_without_the_allow_list(receiver: Receiver) -> None:
    async with WebhookClient(TargetPolicy()) as strict:
        for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"):
            res = await strict.post(receiver.url("/ok", host=host), BODY, headers())
            assert (res.ok, res.blocked, res.status_code) == (False, True, None), host
            assert res.error is not None and res.error.startswith("blocked: "), host
    assert receiver.requests == []
    assert receiver.connections == 0


async def test_environment_proxies_are_ignored(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{free_port()}")
    async with WebhookClient(TESTS) as c:
        res = await c.post(receiver.url("/ok"), BODY, headers())
    assert res.ok
    assert receiver.requests[0].path == "/ok"  # a proxy would have been sent the full URL


async def test_cookies_are_never_replayed(receiver: Receiver, client: WebhookClient) -> None:
    assert (await client.post(receiver.url("/cookie"), BODY, headers())).ok
    assert (await client.post(receiver.url("/ok"), BODY, headers())).ok
    assert "cookie" not in receiver.requests[1].headers


async def test_connections_are_reused(receiver: Receiver, client: WebhookClient) -> None:
    for _ in range(5):
        assert (await client.post(receiver.url("/ok"), BODY, headers())).ok
    assert receiver.connections == 1


async def test_many_concurrent_posts_respect_the_per_origin_limit(receiver: Receiver) -> None:
    async with WebhookClient(TESTS, max_concurrency_per_origin=4, timeout_s=2.0) as c:
        results = await asyncio.gather(
            *(c.post(receiver.url("/busy"), BODY, headers()) for _ in range(40))
        )
    assert all(r.ok for r in results)
    assert len(receiver.requests) == 40
    assert receiver.max_active <= 4
    assert receiver.connections <= 4


async def test_blocked_malformed_url(client: WebhookClient) -> None:
    res = await client.post("http://exa mple.com/", BODY, headers())
    assert res.blocked and res.error is not None and res.error.startswith("blocked: ")


# TLS: the connection goes to the pinned IP while SNI and the certificate check use the name.


class FakeDNS:
    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        return self.table[host]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    d = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=Tidings Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
        "-subj", "/CN=hooks.test")  # fmt: skip
    (d / "leaf.ext").write_text(
        "subjectAltName=DNS:hooks.test\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")  # fmt: skip
    return d


async def test_https_to_a_pinned_ip_uses_the_name_for_sni_and_certificate(tls_files: Path) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tls_files / "leaf.pem", tls_files / "leaf.key")
    client_ctx = ssl.create_default_context(cafile=str(tls_files / "ca.pem"))
    dns = FakeDNS({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    async with (
        serve(server_ctx) as r,
        WebhookClient(TESTS, verify=client_ctx, resolver=dns, timeout_s=5.0) as c,
    ):
        res = await c.post(r.url("/ok", host="hooks.test", scheme="https"), BODY, headers())
        assert (res.ok, res.status_code, res.error) == (True, 200, None)
        assert r.sni == ["hooks.test"]
        assert r.requests[0].headers["host"] == f"hooks.test:{r.port}"
        assert_signed(r.requests[0])

        # same IP, another name: the certificate (for hooks.test) must not be accepted
        bad = await c.post(r.url("/ok", host="other.test", scheme="https"), BODY, headers())
        assert not bad.ok and bad.status_code is None and not bad.blocked
        assert bad.error is not None and "certificate" in bad.error.lower()
        assert len(r.requests) == 1
