"""Password guessing limits: exponential back-off per client, per address and per username.

A *client* is a (username, address) pair, or a console browser's device token. Each failed
password check counts against three keys, whose state lives in the database (`auth_throttle`),
so every process sees the same back-off:

- the client: after `client.free` failures in a row it waits 1 s, then 2 s, 4 s ... up to
  `client.max_s` after each further failure. Only this key stops a client that has signed in from here before;
- the address (any username): stops one address trying many usernames;
- the username (any address): stops many addresses guessing one password. It counts only each
  client's first `client.free` failures, so a single address can never trip it, and clients that
  signed in successfully before (a *known* pair, remembered `known_s`; a device token) pass it.

So an attacker locks out only himself: the owner signing in from another address, from a
known address, or (console) from a browser that signed in before, is not held up. While a key
waits, every attempt gets 429 before any password is looked at, whatever the password, so the
answer tells nothing. Failures are forgotten `forget_s` after the last one; a success does not
reset them (else a guesser sharing the owner's address would get fresh tries after each of the
owner's sign-ins).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tidings.store.base import Store
from tidings.store.records import ThrottleRow

_US = 1_000_000
_PRUNE_EVERY_US = 60 * _US


@dataclass(frozen=True, slots=True)
class Backoff:
    free: int  # failed attempts allowed in a row; the last of them starts the first wait
    base_s: float = 1.0  # the first wait; each further failure doubles it
    max_s: float = 300.0

    def wait_s(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row."""
        over = failures - self.free
        if over < 0:
            return 0.0
        return min(self.max_s, self.base_s * 2.0 ** min(over, 60))


@dataclass(frozen=True, slots=True)
class GuardSettings:
    client: Backoff = field(default_factory=lambda: Backoff(5))
    address: Backoff = field(default_factory=lambda: Backoff(50))
    username: Backoff = field(default_factory=lambda: Backoff(20))
    forget_s: float = 900.0
    known_s: float = 30 * 86400.0


def _key(kind: str, *parts: str) -> str:
    # Hashed: bounded length whatever a client sends, and no usernames or addresses at rest.
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{digest[:40]}"


@dataclass(frozen=True, slots=True)
class Keys:
    client: str
    address: str
    username: str
    known: str
    device: bool  # the client is a console device token: trusted like a known pair

    @staticmethod
    def of(username: str, address: str, device: str | None = None) -> Keys:
        return Keys(
            client=_key("d", device, username) if device else _key("c", username, address),
            address=_key("a", address),
            username=_key("u", username),
            known=_key("k", username, address),
            device=device is not None,
        )

    @property
    def all(self) -> tuple[str, ...]:
        return (self.client, self.address, self.username, self.known)


def _live(row: ThrottleRow | None, now_us: int) -> ThrottleRow | None:
    return row if row is not None and row.expires_us > now_us else None


def trusted(keys: Keys, rows: Mapping[str, ThrottleRow], now_us: int) -> bool:
    """A device token, or a pair that signed in before: exempt from the address and username
    keys (never from its own)."""
    return keys.device or _live(rows.get(keys.known), now_us) is not None


def wait_us(keys: Keys, rows: Mapping[str, ThrottleRow], now_us: int) -> int:
    """How long this client must still wait before its next attempt (0: it may try now)."""
    checked = [keys.client] if trusted(keys, rows, now_us) else [keys.client, *keys.all[1:3]]
    until = max((rows[k].blocked_until_us for k in checked if k in rows), default=0)
    return max(0, until - now_us)


def failures(row: ThrottleRow | None, now_us: int) -> int:
    live = _live(row, now_us)
    return live.failures if live is not None else 0


def _bump(
    key: str, row: ThrottleRow | None, backoff: Backoff, forget_us: int, now_us: int
) -> ThrottleRow:
    n = failures(row, now_us) + 1
    wait = int(backoff.wait_s(n) * _US)
    until = now_us + wait if wait else 0
    return ThrottleRow(key, n, until, max(now_us + forget_us, until))


def after_failure(
    keys: Keys, rows: Mapping[str, ThrottleRow], s: GuardSettings, now_us: int
) -> list[ThrottleRow]:
    forget = int(s.forget_s * _US)
    client = _bump(keys.client, rows.get(keys.client), s.client, forget, now_us)
    out = [client, _bump(keys.address, rows.get(keys.address), s.address, forget, now_us)]
    if client.failures <= s.client.free:
        out.append(_bump(keys.username, rows.get(keys.username), s.username, forget, now_us))
    return out


def _wall_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class Attempt:
    """An admitted password check: its keys, and whether its pair is already known."""

    keys: Keys
    known_until_us: int


class TooManyAttempts(Exception):
    """Refused before any password was checked; try again after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"retry after {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


class Guard:
    """The back-off state machine over the store's `auth_throttle` rows."""

    def __init__(
        self,
        store: Store,
        settings: GuardSettings | None = None,
        clock: Callable[[], int] = _wall_us,
    ) -> None:
        self.settings = settings or GuardSettings()
        self._store = store
        self._clock = clock
        self._in_progress: dict[str, int] = {}  # client key -> password checks running here
        self._pruned_us = 0

    async def admit(self, username: str, address: str, device: str | None = None) -> Attempt:
        """Check the keys before looking at the password; `TooManyAttempts` if one waits. A client
        also waits while it has checks running here that could use up its free failures, so a
        burst of parallel guesses gets no more tries than a sequence."""
        keys = Keys.of(username, address, device)
        rows = await self._store.limits.throttle_rows(keys.all)
        now = self._clock()
        wait = wait_us(keys, rows, now)
        if wait:
            raise TooManyAttempts(wait / _US)
        running = self._in_progress.get(keys.client, 0)
        if running and failures(rows.get(keys.client), now) + running >= self.settings.client.free:
            raise TooManyAttempts(self.settings.client.base_s)
        known = _live(rows.get(keys.known), now)
        return Attempt(keys, known.expires_us if known else 0)

    def begin(self, attempt: Attempt) -> None:
        k = attempt.keys.client
        self._in_progress[k] = self._in_progress.get(k, 0) + 1

    def end(self, attempt: Attempt) -> None:
        k = attempt.keys.client
        left = self._in_progress.get(k, 0) - 1
        if left > 0:
            self._in_progress[k] = left
        else:
            self._in_progress.pop(k, None)

    async def failed(self, attempt: Attempt) -> None:
        keys, s = attempt.keys, self.settings
        keyset: Sequence[str] = (keys.client, keys.address, keys.username)
        now = self._clock()
        await self._store.limits.throttle_update(
            keyset, lambda rows: after_failure(keys, rows, s, now)
        )
        if now - self._pruned_us > _PRUNE_EVERY_US:
            self._pruned_us = now
            await self._store.limits.throttle_prune(now)

    async def succeeded(self, attempt: Attempt) -> None:
        """Remember the pair as known (refreshed at most once a day)."""
        keys = attempt.keys
        if keys.device:
            return
        now = self._clock()
        until = now + int(self.settings.known_s * _US)
        if attempt.known_until_us > until - 86400 * _US:
            return
        row = ThrottleRow(keys.known, 0, 0, until)
        await self._store.limits.throttle_update((keys.known,), lambda _rows: [row])
