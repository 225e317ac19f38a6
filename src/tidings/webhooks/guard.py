"""SSRF guard for user-supplied webhook URLs (``dlr_url``, inbound URLs).

A target is checked in three steps:

1. the URL is parsed by httpx (the same parser that later builds the request, so there is no
   parser differential): the scheme must be in ``policy.allowed_schemes``, the port in range, the
   host a plain DNS name or an IP literal;
2. the host is resolved once: IP literals and the numeric IPv4 forms a browser or ``inet_aton``
   reads as an address (``2130706433``, ``0x7f.1``, ``017700000001``, ``127.1``, each also with a
   trailing dot) directly, as the WHATWG URL standard's IPv4 parser reads them; anything else
   through ``getaddrinfo``;
3. **every** resolved address must be globally routable unicast: private, loopback, link-local,
   multicast, reserved, unspecified, shared (100.64.0.0/10), benchmarking, NAT64, site-local and
   IPv4-mapped / 6to4-embedded forms of any of these are refused, unless the address is inside one
   of ``policy.allow``'s networks (the test suite allows 127.0.0.0/8).

The connection then goes to one of the addresses that were checked (see
``tidings.webhooks.transport.PinnedTransport``), never to a second DNS answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import httpx

__all__ = [
    "LOOPBACK",
    "IPAddress",
    "IPNetwork",
    "ResolutionError",
    "ResolvedTarget",
    "Resolver",
    "TargetBlocked",
    "TargetError",
    "TargetPolicy",
    "blocked_reason",
    "early_problem",
    "numeric_address",
    "parse_target",
    "resolve_target",
    "system_resolver",
    "vet_addresses",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> address strings``: how a name becomes addresses (injectable for tests)."""

LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.IPv4Network("127.0.0.0/8"),
    ipaddress.IPv6Network("::1/128"),
)
"""The allow-list for tests that deliver to a local receiver."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOSTNAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")

# Special-purpose ranges that ipaddress's flags do not (reliably, across 3.11.x) cover.
_SPECIAL: tuple[tuple[str, IPNetwork], ...] = (
    ("shared address space", ipaddress.IPv4Network("100.64.0.0/10")),
    ("IETF protocol assignment", ipaddress.IPv4Network("192.0.0.0/24")),
    ("benchmarking", ipaddress.IPv4Network("198.18.0.0/15")),
    ("documentation", ipaddress.IPv4Network("192.0.2.0/24")),
    ("documentation", ipaddress.IPv4Network("198.51.100.0/24")),
    ("documentation", ipaddress.IPv4Network("203.0.113.0/24")),
    ("reserved", ipaddress.IPv4Network("240.0.0.0/4")),
    ("NAT64", ipaddress.IPv6Network("64:ff9b::/96")),
    ("NAT64", ipaddress.IPv6Network("64:ff9b:1::/48")),
    ("discard-only", ipaddress.IPv6Network("100::/64")),
    ("Teredo", ipaddress.IPv6Network("2001::/32")),
    ("documentation", ipaddress.IPv6Network("2001:db8::/32")),
    ("unique local", ipaddress.IPv6Network("fc00::/7")),
    ("site-local", ipaddress.IPv6Network("fec0::/10")),
)


class TargetError(Exception):
    """A webhook target that cannot be used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TargetBlocked(TargetError):
    """Refused by policy or malformed: permanent, retrying cannot help."""


class ResolutionError(TargetError):
    """The host name did not resolve (possibly temporary)."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Which webhook targets may be contacted.

    ``allow``: networks that are permitted although the guard would block them (e.g.
    ``LOOPBACK`` for tests); the default allows nothing extra. ``allowed_schemes``: use
    ``("https",)`` to refuse plain HTTP.
    """

    allow: tuple[IPNetwork, ...] = ()
    allowed_schemes: tuple[str, ...] = ("http", "https")

    @classmethod
    def allowing(
        cls, *cidrs: str, allowed_schemes: Iterable[str] = ("http", "https")
    ) -> TargetPolicy:
        """``TargetPolicy.allowing("127.0.0.0/8", "::1/128")``."""
        return cls(
            allow=tuple(ipaddress.ip_network(c) for c in cidrs),
            allowed_schemes=tuple(s.lower() for s in allowed_schemes),
        )

    def permits(self, ip: IPAddress) -> bool:
        """Whether ``ip`` is inside the allow-list."""
        return any(ip in net for net in self.allow)


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A vetted target: connect to one of ``addresses``; send ``host`` as Host and TLS SNI."""

    scheme: str
    host: str  # ASCII (IDNA) host name, or the IP literal without brackets
    port: int
    addresses: tuple[IPAddress, ...] = field(default=())

    @property
    def host_is_ip(self) -> bool:
        return _ip_literal(self.host) is not None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why a connection to ``ip`` is refused by default, or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            inner = blocked_reason(ip.ipv4_mapped)
            return None if inner is None else f"IPv4-mapped {inner}"
        if ip.sixtofour is not None:
            inner = blocked_reason(ip.sixtofour)
            if inner is not None:
                return f"6to4-embedded {inner}"
        if ip.is_site_local:
            return "site-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    for name, net in _SPECIAL:
        if ip in net:
            return name
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def parse_target(url: str | httpx.URL, policy: TargetPolicy) -> tuple[str, str, int]:
    """``(scheme, ascii_host, port)`` of a URL, or ``TargetBlocked`` if it is malformed or refused.

    No I/O: the address checks happen in ``resolve_target``.
    """
    try:
        u = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        raise TargetBlocked(f"invalid URL ({e})") from None
    scheme = u.scheme.lower()
    if scheme not in policy.allowed_schemes:
        raise TargetBlocked(f"scheme {scheme!r} is not allowed") from None
    try:
        host = u.raw_host.decode("ascii").lower()
    except UnicodeDecodeError:
        raise TargetBlocked("invalid host name") from None
    if not host:
        raise TargetBlocked("URL has no host")
    if ":" in host:
        if "%" in host or _ip_literal(host) is None:  # a zone id names a local interface
            raise TargetBlocked("invalid IPv6 address")
    elif not _HOSTNAME.fullmatch(host) or len(host) > 254:
        raise TargetBlocked("invalid host name")
    port = u.port if u.port is not None else _DEFAULT_PORTS.get(scheme)
    if port is None or not 1 <= port <= 65535:
        raise TargetBlocked("invalid port")
    return scheme, host, port


async def system_resolver(host: str, port: int) -> list[str]:
    """``loop.getaddrinfo`` for TCP: every address, in the system's preference order."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def vet_addresses(host: str, raw: Iterable[str], policy: TargetPolicy) -> tuple[IPAddress, ...]:
    """Parse, normalise (IPv4-mapped -> IPv4, zone ids dropped, duplicates dropped) and check
    resolved addresses; ``TargetBlocked`` if any one of them is refused."""
    out: list[IPAddress] = []
    for text in raw:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise TargetBlocked(f"{host} resolved to a non-IP answer") from None
        reason = None if policy.permits(ip) else blocked_reason(ip)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
            if reason is not None and policy.permits(ip):
                reason = None
        if reason is not None:
            if _ip_literal(host) is not None:
                raise TargetBlocked(f"{host} is not a public address ({reason})")
            raise TargetBlocked(f"{host} resolves to {ip}, not a public address ({reason})")
        if ip not in out:
            out.append(ip)
    if not out:
        raise ResolutionError(f"{host} has no address")
    return tuple(out)


async def resolve_target(
    url: str | httpx.URL,
    policy: TargetPolicy,
    *,
    resolver: Resolver | None = None,
) -> ResolvedTarget:
    """Parse, resolve and vet a webhook URL.

    Raises ``TargetBlocked`` (permanent: bad URL, scheme or any refused address) or
    ``ResolutionError`` (the name did not resolve). IP literals are not looked up.
    """
    scheme, host, port = parse_target(url, policy)
    literal = numeric_address(host)
    if literal is not None:
        raw: Sequence[str] = [str(literal)]
    else:
        try:
            raw = await (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError) as e:
            raise ResolutionError(f"cannot resolve {host} ({e})") from None
    return ResolvedTarget(scheme, host, port, vet_addresses(host, raw, policy))


def _ipv4_part(text: str) -> int | None:
    """One part of a numeric IPv4 host: decimal, ``0x`` hex or ``0``-led octal (WHATWG)."""
    if not text:
        return None
    base = 10
    if text[:2] in ("0x", "0X"):
        text, base = text[2:], 16
    elif len(text) > 1 and text[0] == "0":
        text, base = text[1:], 8
    if text == "":
        return 0
    digits = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}[base]
    if any(c not in digits for c in text):
        return None
    return int(text, base)


def numeric_address(host: str) -> IPAddress | None:
    """The address a numeric host stands for, without DNS, or None for a name.

    An IP literal, or an IPv4 address in any form the WHATWG URL standard's IPv4 parser (and
    ``inet_aton``) reads: one to four parts, each decimal, hex or octal, the last filling the
    remaining bytes (``2130706433``, ``0x7f.1``, ``127.1``). One trailing dot (the DNS root) is
    ignored: ``127.0.0.1.`` is 127.0.0.1 to a browser and must be to the guard too.
    """
    literal = _ip_literal(host)
    if literal is not None or ":" in host:
        return literal
    name = host[:-1] if host.endswith(".") else host
    parts = name.split(".")
    if not name or len(parts) > 4:
        return None
    values = [_ipv4_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    *head, last = nums
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(nums)):
        return None
    value = last
    for i, v in enumerate(head):
        value += v << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


# RFC 6761 §6.3: `localhost` and every name under it are loopback, whatever DNS says; plus the
# names Debian's /etc/hosts gives the loopback addresses. One trailing dot is the same name.
_LOOPBACK_NAMES = re.compile(
    r"(?:localhost|[a-z0-9_.-]*\.localhost|localhost\.localdomain|ip6-localhost|ip6-loopback)\.?"
)
_LOOPBACK_ADDRESSES = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


async def early_problem(url: str, policy: TargetPolicy) -> str | None:
    """What is wrong with a webhook URL that can be told without DNS, or None.

    Used when a URL is accepted (`dlr_url`), so a caller hears at once that a loopback or private
    target is refused: a malformed URL, an address in any numeric form, a loopback name. Other
    host names are resolved and checked at every delivery.
    """
    try:
        _, host, _ = parse_target(url, policy)
    except TargetBlocked as e:
        return e.reason
    if _LOOPBACK_NAMES.fullmatch(host):
        if any(policy.permits(ip) for ip in _LOOPBACK_ADDRESSES):
            return None  # loopback is allowed: which family it resolves to is told at delivery
        return f"{host} is a loopback name, not a public address"
    address = numeric_address(host)
    if address is None:
        return None
    try:
        vet_addresses(host, [str(address)], policy)
    except TargetBlocked as e:
        return e.reason
    return None
