"""The pinned transport and the client's outcome mapping, with the socket layer faked out."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import pytest

from tidings.webhooks.delivery import WebhookClient, parse_retry_after
from tidings.webhooks.guard import ResolutionError, TargetBlocked, TargetPolicy
from tidings.webhooks.transport import PinnedTransport

DENY = TargetPolicy()
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1::"


class FakeDNS:
    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(-2, "Name or service not known")
        return self.table[host]


@dataclass
class Wire:
    """Stands in for httpcore: records what would have been sent, answers with `answer`."""

    sent: list[httpx.Request] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # IPs whose connect fails
    answer: Callable[[httpx.Request], httpx.Response] = lambda r: httpx.Response(200, content=b"ok")
    closed: int = 0


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    w = Wire()

    async def handle(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        if request.url.host in w.refuse:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        w.sent.append(request)
        return w.answer(request)

    async def aclose(self: httpx.AsyncHTTPTransport) -> None:
        w.closed += 1

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "aclose", aclose)
    yield w


def dns() -> FakeDNS:
    return FakeDNS(
        {
            "hooks.example": [PUBLIC_V4],
            "dual.example": [PUBLIC_V6, PUBLIC_V4],
            "a.example": [PUBLIC_V4],
            "b.example": [PUBLIC_V4],
            "c.example": [PUBLIC_V4],
            "internal.example": ["10.0.0.5"],
        }
    )


async def send(transport: PinnedTransport, url: str) -> httpx.Response:
    # no `async with`: closing the client would close the shared transport
    client = httpx.AsyncClient(transport=transport, trust_env=False)
    return await client.post(url, content=b"{}")


async def test_http_request_goes_to_the_vetted_ip_with_the_original_host(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns())
    response = await send(t, "http://hooks.example:8080/dlr?x=1")
    assert response.status_code == 200 and response.content == b"ok"
    (req,) = wire.sent
    assert str(req.url) == f"http://{PUBLIC_V4}:8080/dlr?x=1"
    assert req.headers["host"] == "hooks.example:8080"
    assert "sni_hostname" not in req.extensions
    assert await req.aread() == b"{}"


async def test_https_keeps_the_name_for_sni_and_certificate_checks(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns())
    await send(t, "https://hooks.example/dlr")
    (req,) = wire.sent
    assert req.url.host == PUBLIC_V4 and req.url.scheme == "https"
    assert req.headers["host"] == "hooks.example"
    assert req.extensions["sni_hostname"] == "hooks.example"


async def test_https_ip_literal_has_no_sni_override(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns())
    await send(t, f"https://{PUBLIC_V4}/dlr")
    assert "sni_hostname" not in wire.sent[0].extensions


async def test_failed_connect_falls_back_to_the_next_vetted_address(wire: Wire) -> None:
    wire.refuse.add(PUBLIC_V6)
    t = PinnedTransport(DENY, resolver=dns())
    await send(t, "http://dual.example/")
    (req,) = wire.sent
    assert req.url.host == PUBLIC_V4
    assert req.headers["host"] == "dual.example"


async def test_ipv6_pin(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns())
    await send(t, "http://dual.example:81/")
    assert str(wire.sent[0].url) == f"http://[{PUBLIC_V6}]:81/"


async def test_all_addresses_refused_raises_connect_error(wire: Wire) -> None:
    wire.refuse.update({PUBLIC_V4, PUBLIC_V6})
    t = PinnedTransport(DENY, resolver=dns())
    with pytest.raises(httpx.ConnectError):
        await send(t, "http://dual.example/")


async def test_blocked_targets_never_reach_the_wire(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns())
    for url in ("http://internal.example/", "http://127.0.0.1/", "http://[::1]/"):
        with pytest.raises(TargetBlocked):
            await send(t, url)
    with pytest.raises(ResolutionError):
        await send(t, "http://nowhere.example/")
    assert wire.sent == []


async def test_dns_answers_are_cached_for_the_ttl(wire: Wire) -> None:
    resolver = dns()
    t = PinnedTransport(DENY, resolver=resolver)
    await send(t, "http://hooks.example/1")
    await send(t, "http://hooks.example/2")
    assert resolver.calls == ["hooks.example"]
    uncached = dns()
    t = PinnedTransport(DENY, resolver=uncached, dns_cache_ttl_s=0)
    await send(t, "http://hooks.example/1")
    await send(t, "http://hooks.example/2")
    assert uncached.calls == ["hooks.example", "hooks.example"]


async def test_one_pool_per_origin_bounded_lru(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns(), max_origins=2)
    await send(t, "http://a.example/")
    await send(t, "http://b.example/")
    assert t.origin_count == 2 and wire.closed == 0
    await send(t, "http://c.example/")
    assert t.origin_count == 2 and wire.closed == 1  # a.example's pool closed
    await t.aclose()
    assert wire.closed == 3


async def test_an_evicted_pool_closes_only_after_its_response(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns(), max_origins=1)
    client = httpx.AsyncClient(transport=t, trust_env=False)
    request = client.build_request("POST", "http://a.example/", content=b"{}")
    response = await client.send(request, stream=True)
    await send(t, "http://b.example/")  # evicts a.example while its response is open
    assert wire.closed == 0
    await response.aclose()
    assert wire.closed == 1


async def test_closed_transport_refuses(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns())
    await t.aclose()
    with pytest.raises(RuntimeError):
        await send(t, "http://hooks.example/")


def responder(status: int, headers: dict[str, str] | None = None) -> Callable[..., httpx.Response]:
    return lambda r: httpx.Response(status, headers=headers, content=b"body")


@pytest.mark.parametrize(
    ("status", "ok", "gone"),
    [(200, True, False), (204, True, False), (302, True, False), (399, True, False),
     (400, False, False), (410, False, True), (429, False, False), (500, False, False)],
)  # fmt: skip
async def test_client_outcome_by_status(wire: Wire, status: int, ok: bool, gone: bool) -> None:
    wire.answer = responder(status)
    async with WebhookClient(DENY, resolver=dns()) as client:
        res = await client.post("https://hooks.example/", b"{}", {"X-A": "1"})
    assert (res.status_code, res.ok, res.gone, res.blocked) == (status, ok, gone, False)
    assert res.error == (None if ok else f"HTTP {status}")
    assert res.duration_ms >= 0
    assert wire.sent[0].headers["x-a"] == "1"


async def test_client_passes_retry_after(wire: Wire) -> None:
    wire.answer = responder(503, {"Retry-After": "120"})
    async with WebhookClient(DENY, resolver=dns()) as client:
        res = await client.post("https://hooks.example/", b"{}", {})
    assert res.retry_after_s == 120.0 and not res.ok


def test_parse_retry_after() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after(" 30 ") == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:00 GMT", now) == 60.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None


async def test_client_blocked_results(wire: Wire) -> None:
    async with WebhookClient(DENY, resolver=dns()) as client:
        for url in ("http://internal.example/", "ftp://hooks.example/", "http://[::1]/", "::"):
            res = await client.post(url, b"{}", {})
            assert res.blocked and not res.ok and res.status_code is None
            assert res.error is not None and res.error.startswith("blocked: ")
        res = await client.post("http://nowhere.example/", b"{}", {})
        assert not res.blocked and not res.ok and res.error is not None
        assert res.error.startswith("dns: ")
    assert wire.sent == []


@pytest.mark.parametrize(
    ("exc", "prefix"),
    [
        (httpx.ReadTimeout("timed out"), "timeout"),
        (httpx.RemoteProtocolError("Server disconnected"), "protocol error"),
        (httpx.ReadError("reset"), "connection lost"),
        (httpx.ConnectError("refused"), "connection failed"),
        (RuntimeError("bug"), "internal error"),
    ],
)
async def test_client_never_raises_for_the_network(wire: Wire, exc: Exception, prefix: str) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    wire.answer = boom
    async with WebhookClient(DENY, resolver=dns()) as client:
        res = await client.post("http://hooks.example/", b"{}", {})
    assert not res.ok and not res.blocked and res.status_code is None
    assert res.error is not None and res.error.startswith(prefix)


async def test_target_addresses_type(wire: Wire) -> None:
    t = PinnedTransport(DENY, resolver=dns())
    target = await t.resolve("http://dual.example/")
    assert target.addresses == (ipaddress.ip_address(PUBLIC_V6), ipaddress.ip_address(PUBLIC_V4))


def test_parse_retry_after_reads_ascii_digits_only() -> None:
    # `"²".isdigit()` is true but int() refuses it; a 5000-digit number int() refuses too.
    assert parse_retry_after("²") is None
    assert parse_retry_after("٣") is None
    assert parse_retry_after("9" * 5000) is None
    assert parse_retry_after("1_0") is None
