"""The logic of the guessing limits, the rate limits and the version-checked accept (in-memory
fakes of the store stand in for the database; the SQL is tested in tests/integration)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

import argon2
import pytest

from tests.integration.test_store import omni
from tidings.config import ConfigError, parse_config
from tidings.core.passwords import DUMMY_HASH
from tidings.engine.accepter import Accepter, AccountChanged
from tidings.store.records import Account, KeyAnswer, NewOmnimessage, ThrottleRow
from tidings.web.auth import Authenticator, AuthSettings
from tidings.web.errors import error_response, too_many
from tidings.web.guard import (
    Backoff,
    Guard,
    GuardSettings,
    Keys,
    TooManyAttempts,
    after_failure,
    wait_us,
)
from tidings.web.ratelimit import LocalBucket, Rate, RateLimiter, RateSettings, chunk_size

S = 1_000_000


def test_backoff_doubles_from_the_last_free_failure_up_to_its_cap() -> None:
    b = Backoff(free=5, base_s=1.0, max_s=300.0)
    assert [b.wait_s(n) for n in range(1, 12)] == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64]
    assert b.wait_s(20) == 300 and b.wait_s(10_000) == 300


def test_keys_are_bounded_and_distinct() -> None:
    k = Keys.of("alice" * 1000, "203.0.113.7")
    assert all(len(x) < 50 for x in k.all)
    assert len(set(k.all)) == 4
    assert Keys.of("alice", "a").client != Keys.of("alice", "b").client
    assert Keys.of("alice", "a").username == Keys.of("alice", "b").username
    assert Keys.of("alice", "a", device="d").client != Keys.of("alice", "a").client


def _fail(keys: Keys, rows: dict[str, ThrottleRow], s: GuardSettings, now: int) -> None:
    for r in after_failure(keys, rows, s, now):
        rows[r.key] = r


def test_one_address_never_trips_the_username_limit() -> None:
    s = GuardSettings(client=Backoff(3), username=Backoff(5))
    rows: dict[str, ThrottleRow] = {}
    attacker = Keys.of("alice", "203.0.113.7")
    now = 1000 * S
    for _ in range(50):
        _fail(attacker, rows, s, now)
        now += 400 * S  # every wait has passed: the guesser tries again
    assert rows[attacker.client].failures == 50
    assert rows[attacker.username].failures == 3  # only its first three count
    owner = Keys.of("alice", "198.51.100.1")
    assert wait_us(owner, rows, now) == 0
    assert wait_us(attacker, rows, rows[attacker.client].blocked_until_us - 1) == 1


def test_many_addresses_trip_the_username_limit_but_not_for_known_pairs() -> None:
    s = GuardSettings(client=Backoff(3), username=Backoff(5))
    now = 1000 * S
    owner_home = Keys.of("alice", "198.51.100.1")
    rows: dict[str, ThrottleRow] = {owner_home.known: ThrottleRow(owner_home.known, 0, 0, now + S)}
    for i in range(3):
        _fail(Keys.of("alice", f"203.0.113.{i}"), rows, s, now)
        _fail(Keys.of("alice", f"203.0.113.{i}"), rows, s, now)
    assert wait_us(Keys.of("alice", "192.0.2.1"), rows, now) == 2 * S  # sixth failure: 2 s
    assert wait_us(owner_home, rows, now) == 0  # signed in from there before
    assert wait_us(Keys.of("alice", "192.0.2.1", device="tok"), rows, now) == 0
    assert wait_us(Keys.of("bob", "192.0.2.1"), rows, now) == 0


def test_failures_are_forgotten_after_a_quiet_spell() -> None:
    s = GuardSettings(client=Backoff(2), forget_s=60)
    rows: dict[str, ThrottleRow] = {}
    k = Keys.of("alice", "a")
    now = 1000 * S
    _fail(k, rows, s, now)
    _fail(k, rows, s, now)
    assert rows[k.client].failures == 2 and wait_us(k, rows, now) == S
    now += 61 * S
    _fail(k, rows, s, now)
    assert rows[k.client].failures == 1 and wait_us(k, rows, now) == 0


class FakeLimits:
    """`auth_throttle` in a dict (what store/limits.py does in SQL)."""

    def __init__(self) -> None:
        self.rows: dict[str, ThrottleRow] = {}

    async def throttle_rows(self, keys: Sequence[str]) -> dict[str, ThrottleRow]:
        await asyncio.sleep(0)
        return {k: self.rows[k] for k in keys if k in self.rows}

    async def throttle_update(
        self,
        keys: Sequence[str],
        decide: Callable[[Mapping[str, ThrottleRow]], Sequence[ThrottleRow]],
    ) -> list[ThrottleRow]:
        new = list(decide({k: self.rows[k] for k in keys if k in self.rows}))
        self.rows.update({r.key: r for r in new})
        return new

    async def throttle_prune(self, now_us: int) -> int:
        return 0


class FakeAccounts:
    def __init__(self) -> None:
        self.by_name: dict[str, Account] = {}

    async def get(self, username: str) -> Account | None:
        await asyncio.sleep(0)
        return self.by_name.get(username)


class FakeThrottleStore:
    """The store's `limits` and `accounts` ports, in memory."""

    def __init__(self) -> None:
        self.limits = FakeLimits()
        self.accounts = FakeAccounts()


async def test_parallel_guesses_get_no_more_tries_than_sequential_ones() -> None:
    store = FakeThrottleStore()
    store.accounts.by_name["alice"] = Account(1, "alice", DUMMY_HASH, "A", None, "s", 0)
    auth = Authenticator(store, AuthSettings(verify_concurrency=1))  # type: ignore[arg-type]
    results = await asyncio.gather(
        *(auth.check_password("alice", f"guess-{i}", "203.0.113.7") for i in range(20)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, TooManyAttempts)]
    assert results.count(None) == 5 and len(refused) == 15
    assert auth.metrics.password_checks._value.get() == 5  # type: ignore[attr-defined]
    auth.close()


async def test_guard_refuses_before_looking_at_the_password() -> None:
    store = FakeThrottleStore()
    clock = [1000 * S]
    guard = Guard(store, GuardSettings(client=Backoff(1)), clock=lambda: clock[0])  # type: ignore[arg-type]
    attempt = await guard.admit("alice", "a")
    await guard.failed(attempt)
    with pytest.raises(TooManyAttempts) as exc:
        await guard.admit("alice", "a")
    assert exc.value.retry_after_s == 1.0
    clock[0] += S
    await guard.admit("alice", "a")


def test_dummy_hash_costs_what_a_real_hash_costs() -> None:
    hasher = argon2.PasswordHasher()
    assert argon2.extract_parameters(DUMMY_HASH) == argon2.extract_parameters(hasher.hash("x"))


def test_local_bucket() -> None:
    b = LocalBucket(Rate(2.0, 3.0), now=0.0)
    assert [b.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(0.0) == pytest.approx(0.5)
    assert b.take(0.5) == 0.0
    assert b.take(0.5) == pytest.approx(0.5)
    assert [b.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]  # never more than the burst
    assert b.take(100.0) > 0


async def test_rate_limiter_per_account_and_unlimited() -> None:
    now = [0.0]
    limits = RateLimiter(
        RateSettings(default=Rate(1.0, 2.0), accounts={"free": Rate(0.0, 0.0)}),
        clock=lambda: now[0],
    )
    assert [await limits.check(1, "alice") for _ in range(3)] == [0.0, 0.0, 1.0]
    assert await limits.check(2, "bob") == 0.0
    assert all([await limits.check(3, "free") == 0.0 for _ in range(100)])


def test_chunks_are_a_tenth_of_a_second_and_at_most_a_quarter_of_the_burst() -> None:
    assert chunk_size(Rate(1000, 2000)) == 100
    assert chunk_size(Rate(1000, 100)) == 25
    assert chunk_size(Rate(1, 5)) == 1
    assert chunk_size(Rate(0.5, 2)) == 1


def test_429_is_in_the_error_format_with_retry_after() -> None:
    r = error_response(too_many(0.2, "Too many requests"))
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.body.startswith(b'{"errors":[{"title":"Forbidden"')
    assert too_many(2.1, "x").headers == {"Retry-After": "3"}


def test_config_per_account_rates() -> None:
    cfg = parse_config(
        {"accounts": {"alice": {"rate_per_second": 5, "rate_burst": 7}, "bob": {"routes": {}}}}, {}
    )
    assert cfg.account_rates == {"alice": Rate(5.0, 7.0)}
    assert cfg.account_routes == {"alice": {}, "bob": {}}
    cfg = parse_config({"accounts": {"alice": {"rate_per_second": 5}}}, {})
    assert cfg.account_rates == {"alice": Rate(5.0, 10.0)}
    for data, message in (
        ({"alice": {"rate_burst": 3}}, "accounts.alice.rate_burst: give rate_per_second too"),
        ({"alice": {"rate_per_second": "x"}}, "accounts.alice.rate_per_second: must be a number"),
        ({"alice": {"limit": 3}}, "accounts.alice.limit: unknown setting"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config({"accounts": data}, {})


class FakeInsertStore:
    """Accounts' versions in a dict; `messages.insert` as the store's port specifies it."""

    def __init__(self, versions: dict[int, int]) -> None:
        self.versions = versions
        self.stored: list[NewOmnimessage] = []
        self.answers: list[KeyAnswer] = []
        self.messages = self

    async def insert(
        self,
        items: Sequence[NewOmnimessage],
        expect: Mapping[int, int] | None = None,
        answers: Sequence[KeyAnswer] = (),
    ) -> set[int]:
        stale = {a for a, v in (expect or {}).items() if self.versions.get(a) != v}
        self.stored += [o for o in items if o.account_id not in stale]
        self.answers += [a for a in answers if a.account_id not in stale]
        return stale


def _omni(account_id: int) -> NewOmnimessage:
    return omni(account_id, 0)


async def test_accept_records_idempotency_answers_only_with_their_messages() -> None:
    store = FakeInsertStore({1: 3, 2: 1})
    accepter = Accepter(store, lambda _due: None)  # type: ignore[arg-type]
    kept, dropped = KeyAnswer(1, "a", 1, 201, "[]", b""), KeyAnswer(2, "b", 2, 201, "[]", b"")
    results = await asyncio.gather(
        accepter.add([_omni(1)], (1, 3), kept),
        accepter.add([_omni(2)], (2, 0), dropped),  # account 2 changed: nothing stored
        return_exceptions=True,
    )
    assert results[0] is None and isinstance(results[1], AccountChanged)
    assert store.answers == [kept]


async def test_accept_refuses_changed_accounts_and_keeps_the_rest() -> None:
    store = FakeInsertStore({1: 3, 2: 1})
    accepter = Accepter(store, lambda _due: None)  # type: ignore[arg-type]
    fresh, old, unchecked, other = _omni(1), _omni(1), _omni(1), _omni(2)
    results = await asyncio.gather(
        accepter.add([fresh], (1, 3)),
        accepter.add([old], (1, 2)),  # saw an older version than a neighbour: stale
        accepter.add([unchecked]),
        accepter.add([other], (2, 0)),  # account 2 changed since
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], AccountChanged) and isinstance(results[3], AccountChanged)
    assert {o.id for o in store.stored} == {fresh.id, unchecked.id}
    store.versions[1] = 4
    results = await asyncio.gather(
        accepter.add([_omni(1)], (1, 3)),
        accepter.add([unchecked2 := _omni(1)]),
        return_exceptions=True,
    )
    assert isinstance(results[0], AccountChanged) and results[1] is None
    assert unchecked2.id in {o.id for o in store.stored}  # stored again without the check
