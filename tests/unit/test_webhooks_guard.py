"""The SSRF guard: URL parsing, resolution and address checks (no connections are made)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from tidings.webhooks.guard import (
    LOOPBACK,
    ResolutionError,
    TargetBlocked,
    TargetPolicy,
    blocked_reason,
    early_problem,
    numeric_address,
    parse_target,
    resolve_target,
)

DENY = TargetPolicy()
TESTS = TargetPolicy(allow=LOOPBACK)


class FakeDNS:
    """A resolver answering from a table; records the names it was asked."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(-2, "Name or service not known")
        return self.table[host]


fake_dns = FakeDNS


NO_DNS = fake_dns({})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.0.0.1:8080/dlr", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://172.31.255.255/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
        ("http://[::ffff:10.0.0.1]/", "IPv4-mapped private"),
        ("http://[::ffff:169.254.169.254]/", "IPv4-mapped link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://100.64.0.1/", "shared address space"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[fc00::1]/", "unique local"),
        ("http://[64:ff9b::a00:1]/", "NAT64"),
        ("http://[2002:7f00:1::]/", "6to4-embedded loopback"),
        ("http://198.18.0.1/", "benchmarking"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", ""),
    ],
)
async def test_non_public_literals_are_blocked(url: str, reason: str) -> None:
    with pytest.raises(TargetBlocked) as exc:
        await resolve_target(url, DENY, resolver=NO_DNS)
    assert reason in exc.value.reason
    assert "not a public address" in str(exc.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # decimal 127.0.0.1
        "http://0x7f.1/",  # hex + short form
        "http://0x7f000001/",
        "http://127.1/",
        "http://017700000001/",  # octal
        "http://0/",  # 0.0.0.0
        "http://localhost/",
        "http://LOCALHOST:9000/x",
    ],
)
async def test_odd_forms_and_localhost_resolve_to_blocked_addresses(url: str) -> None:
    # the real resolver: numeric forms are read like the socket layer reads them
    with pytest.raises(TargetBlocked) as exc:
        await resolve_target(url, DENY)
    assert "resolves to" in exc.value.reason
    assert "loopback" in exc.value.reason or "unspecified" in exc.value.reason


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com@127.0.0.1/",
        "http://user:pass@127.0.0.1:8000/",
        "http://user:pass@localhost/",
        "http://127.0.0.1#@example.com/",
    ],
)
async def test_userinfo_tricks_are_judged_by_the_real_host(url: str) -> None:
    dns = fake_dns({"example.com": ["93.184.216.34"], "localhost": ["127.0.0.1"]})
    try:
        await resolve_target(url, DENY, resolver=dns)
    except TargetBlocked as e:
        assert "loopback" in e.reason or "invalid" in e.reason
    else:
        pytest.fail(f"{url} was not blocked")


async def test_backslash_is_userinfo_to_httpx_so_the_host_is_the_public_name() -> None:
    # httpx (which also builds the request) reads this as userinfo "127.0.0.1\\" at example.com:
    # the guard checks exactly the host that will be connected to.
    dns = fake_dns({"example.com": ["93.184.216.34"]})
    target = await resolve_target("http://127.0.0.1\\@example.com/", DENY, resolver=dns)
    assert target.host == "example.com"
    assert [str(a) for a in target.addresses] == ["93.184.216.34"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://127.0.0.1:25/", "scheme 'gopher' is not allowed"),
        ("http:///no-host", "no host"),
        ("http://exa mple.com/", "invalid host"),
        ("http://[fe80::1%25eth0]/", "invalid IPv6"),
        ("http://127.0.0.1:99999/", "invalid port"),
        ("not a url", "scheme"),
        ("http://0177.0.0.1/", "invalid URL"),
    ],
)
async def test_malformed_or_wrong_scheme(url: str, reason: str) -> None:
    with pytest.raises(TargetBlocked) as exc:
        await resolve_target(url, DENY, resolver=NO_DNS)
    assert reason in exc.value.reason


def test_https_only_policy() -> None:
    policy = TargetPolicy(allowed_schemes=("https",))
    assert parse_target("https://hooks.example/x", policy) == ("https", "hooks.example", 443)
    with pytest.raises(TargetBlocked, match="scheme 'http'"):
        parse_target("http://hooks.example/x", policy)


def test_parse_target_normalises() -> None:
    assert parse_target("HTTP://Hooks.Example.COM:8443/p?q=1", DENY) == (
        "http",
        "hooks.example.com",
        8443,
    )
    assert parse_target("http://bücher.de/", DENY) == ("http", "xn--bcher-kva.de", 80)
    assert parse_target("https://[2606:2800:220:1::]/", DENY) == ("https", "2606:2800:220:1::", 443)


async def test_names_resolving_to_private_addresses_are_blocked() -> None:
    dns = fake_dns({"hooks.example": ["10.0.0.7"]})
    with pytest.raises(TargetBlocked, match=r"hooks\.example resolves to 10\.0\.0\.7"):
        await resolve_target("https://hooks.example/dlr", DENY, resolver=dns)


async def test_any_private_answer_blocks_the_name() -> None:
    dns = fake_dns({"mixed.example": ["93.184.216.34", "192.168.0.10"]})
    with pytest.raises(TargetBlocked, match=r"192\.168\.0\.10"):
        await resolve_target("https://mixed.example/", DENY, resolver=dns)


async def test_mapped_answers_are_unwrapped_and_checked() -> None:
    dns = fake_dns({"sneaky.example": ["::ffff:169.254.169.254"]})
    with pytest.raises(TargetBlocked, match="IPv4-mapped link-local"):
        await resolve_target("http://sneaky.example/", DENY, resolver=dns)


async def test_non_ip_resolver_answer_is_blocked() -> None:
    dns = fake_dns({"weird.example": ["not-an-ip"]})
    with pytest.raises(TargetBlocked, match="non-IP"):
        await resolve_target("http://weird.example/", DENY, resolver=dns)


async def test_unresolvable_name_is_a_resolution_error_not_a_block() -> None:
    with pytest.raises(ResolutionError) as exc:
        await resolve_target("https://nowhere.example/", DENY, resolver=NO_DNS)
    assert not isinstance(exc.value, TargetBlocked)
    with pytest.raises(ResolutionError):
        await resolve_target(
            "https://empty.example/", DENY, resolver=fake_dns({"empty.example": []})
        )


async def test_public_literal_passes_without_dns_or_connection() -> None:
    dns = fake_dns({})
    target = await resolve_target("https://93.184.216.34/hook", DENY, resolver=dns)
    assert target.addresses == (ipaddress.IPv4Address("93.184.216.34"),)
    assert (target.scheme, target.host, target.port) == ("https", "93.184.216.34", 443)
    assert target.host_is_ip
    assert dns.calls == []


async def test_public_ipv6_literal_and_public_name_pass() -> None:
    target = await resolve_target("http://[2606:2800:220:1::]:8080/", DENY, resolver=NO_DNS)
    assert target.addresses == (ipaddress.IPv6Address("2606:2800:220:1::"),)
    dns = fake_dns({"hooks.example": ["93.184.216.34", "2606:2800:220:1::", "93.184.216.34"]})
    target = await resolve_target("https://hooks.example/", DENY, resolver=dns)
    assert target.host == "hooks.example" and not target.host_is_ip
    assert [str(a) for a in target.addresses] == ["93.184.216.34", "2606:2800:220:1::"]


async def test_public_mapped_literal_is_normalised_to_ipv4() -> None:
    target = await resolve_target("http://[::ffff:93.184.216.34]/", DENY, resolver=NO_DNS)
    assert target.addresses == (ipaddress.IPv4Address("93.184.216.34"),)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/",
        "http://127.8.9.10/",
        "http://[::1]:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://localhost:8000/",
    ],
)
async def test_allow_list_permits_loopback(url: str) -> None:
    target = await resolve_target(url, TESTS)
    assert all(a.is_loopback for a in target.addresses)


async def test_allow_list_is_narrow() -> None:
    policy = TargetPolicy.allowing("10.20.0.0/16")
    await resolve_target("http://10.20.3.4/", policy, resolver=NO_DNS)
    for url in ("http://10.21.0.1/", "http://127.0.0.1/", "http://169.254.169.254/"):
        with pytest.raises(TargetBlocked):
            await resolve_target(url, policy, resolver=NO_DNS)
    with pytest.raises(TargetBlocked):
        await resolve_target("http://127.0.0.1/", TESTS.__class__(), resolver=NO_DNS)


def test_blocked_reason_table() -> None:
    ip = ipaddress.ip_address
    assert blocked_reason(ip("93.184.216.34")) is None
    assert blocked_reason(ip("8.8.8.8")) is None
    assert blocked_reason(ip("2606:4700:4700::1111")) is None
    assert blocked_reason(ip("::ffff:8.8.8.8")) is None
    assert blocked_reason(ip("127.0.0.1")) == "loopback"
    assert blocked_reason(ip("::ffff:127.0.0.1")) == "IPv4-mapped loopback"
    assert blocked_reason(ip("100.127.255.255")) == "shared address space"
    assert blocked_reason(ip("192.0.0.8")) == "IETF protocol assignment"
    assert blocked_reason(ip("::127.0.0.1")) is not None  # IPv4-compatible, deprecated
    assert blocked_reason(ip("2001:db8::1")) == "documentation"
    assert blocked_reason(ip("2001::1")) == "Teredo"


# send-time checks: decided without DNS


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("2130706433.", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f.1.", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.258", "10.1.1.2"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("169.254.43518", "169.254.169.254"),
        ("93.184.216.34", "93.184.216.34"),
        ("::1", "::1"),
    ],
)
def test_numeric_hosts_are_read_as_browsers_read_them(host: str, address: str) -> None:
    assert numeric_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "example.com.",
        "1.2.3.4.5",  # five parts: a name
        "4294967296",  # more than 32 bits
        "256.1.1.1",
        "1.2.3.256",
        "1.2.65536",
        "08.1.1.1",  # not octal
        "0xg.1",
        "1.2.3.a",
        "a.1",
        "1..2",
    ],
)
def test_names_are_not_numeric(host: str) -> None:
    assert numeric_address(host) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://localhost./",
        "http://LocalHost.:8080/dlr",
        "http://a.localhost/",
        "http://a.b.localhost./x",
        "http://localhost.localdomain/",
        "http://ip6-localhost/",
        "http://127.0.0.1./",
        "http://2130706433./",
        "http://0x7f.1./",
        "http://017700000001/",
        "http://10.0.0.1./",
        "http://169.254.43518/",
        "http://[::1]/",
        "http://0/",
        "ftp://example.com/",
        "http://exa mple.com/",
    ],
)
async def test_early_problem_refuses_what_needs_no_dns(url: str) -> None:
    problem = await early_problem(url, DENY)
    assert problem is not None, url


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/dlr",
        "https://example.com./dlr",
        "http://93.184.216.34./",
        "http://localhost.example.com/",  # a real name under a public domain: told at delivery
        "http://notlocalhost/",
    ],
)
async def test_early_problem_passes_public_and_unresolved_names(url: str) -> None:
    assert await early_problem(url, DENY) is None


async def test_early_problem_follows_the_allow_list() -> None:
    for url in ("http://localhost:8000/", "http://a.localhost./", "http://127.0.0.1.:8000/"):
        assert await early_problem(url, TESTS) is None, url
    only_v4 = TargetPolicy.allowing("127.0.0.0/8")
    assert await early_problem("http://localhost/", only_v4) is None
    assert await early_problem("http://10.0.0.1./", TESTS) is not None


async def test_delivery_reads_trailing_dot_literals_without_dns() -> None:
    dns = fake_dns({})
    with pytest.raises(TargetBlocked) as exc:
        await resolve_target("http://127.0.0.1./", DENY, resolver=dns)
    assert "loopback" in exc.value.reason and dns.calls == []
    target = await resolve_target("http://127.0.0.1.:9/", TESTS, resolver=dns)
    assert target.addresses == (ipaddress.IPv4Address("127.0.0.1"),)
