"""Per-account request rate limits: a token bucket per account (`rate_per_s`, `burst`).

On SQLite one process owns the database, so the bucket lives in that process's memory. On
PostgreSQL several processes serve the same accounts and share one bucket row per account
(`rate_buckets`); taking a token from the row on every request would put a committed UPDATE of
one hot row on the request path, so each process reserves tokens in chunks (a tenth of a
second's worth, at most a quarter of the burst) and spends them locally; reserved tokens it has
not spent within `hold_s` are dropped. The sum over processes therefore never exceeds the
account's rate; a process may refuse while another still holds a few reserved tokens.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tidings.store.base import Store


@dataclass(frozen=True, slots=True)
class Rate:
    per_s: float  # sustained requests per second; 0 = unlimited
    burst: float  # bucket size: requests allowed at once after a quiet spell


@dataclass(frozen=True, slots=True)
class RateSettings:
    default: Rate = field(default_factory=lambda: Rate(1000.0, 2000.0))
    accounts: Mapping[str, Rate] = field(default_factory=dict)  # username -> its own rate
    hold_s: float = 1.0  # reserved tokens left unspent this long are dropped (shared buckets)

    def of(self, username: str) -> Rate:
        return self.accounts.get(username, self.default)


def chunk_size(rate: Rate) -> float:
    return max(1.0, min(rate.burst / 4, math.ceil(rate.per_s * 0.1)))


class LocalBucket:
    __slots__ = ("_rate", "_tokens", "_updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self._rate = rate
        self._tokens = rate.burst
        self._updated = now

    def take(self, now: float) -> float:
        """Take one token: 0.0, or the seconds until one will be there."""
        tokens = min(self._rate.burst, self._tokens + (now - self._updated) * self._rate.per_s)
        self._updated = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self._rate.per_s


class SharedBucket:
    """Spends tokens reserved from the account's shared bucket row, reserving more when out."""

    __slots__ = (
        "_account_id",
        "_clock",
        "_empty_until",
        "_hold_s",
        "_rate",
        "_refill",
        "_store",
        "_tokens",
        "_valid_until",
    )

    def __init__(
        self, store: Store, account_id: int, rate: Rate, hold_s: float, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._account_id = account_id
        self._rate = rate
        self._hold_s = hold_s
        self._clock = clock
        self._tokens = 0.0
        self._valid_until = 0.0
        self._empty_until = 0.0  # the shared bucket was empty: refuse without asking until then
        self._refill: asyncio.Future[None] | None = None

    def _local(self, now: float) -> bool:
        if self._tokens >= 1.0 and now < self._valid_until:
            self._tokens -= 1.0
            return True
        return False

    async def take(self) -> float:
        while True:
            now = self._clock()
            if self._local(now):
                return 0.0
            if now < self._empty_until:
                return self._empty_until - now
            if self._refill is None:
                self._refill = asyncio.ensure_future(self._reserve())
                refill = self._refill
                refill.add_done_callback(lambda _: setattr(self, "_refill", None))
            await asyncio.shield(self._refill)

    async def _reserve(self) -> None:
        rate = self._rate
        grant = await self._store.limits.take_tokens(
            self._account_id, chunk_size(rate), rate.per_s, rate.burst, time.time_ns() // 1000
        )
        now = self._clock()
        if now >= self._valid_until:
            self._tokens = 0.0
        self._tokens += grant.granted
        self._valid_until = now + self._hold_s
        if self._tokens < 1.0:
            self._empty_until = now + (1.0 - grant.left) / rate.per_s


class RateLimiter:
    """`check(account_id, username)`: 0.0 when the request may go on, else seconds to wait."""

    def __init__(
        self,
        settings: RateSettings,
        store: Store | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`store`: share buckets through it (PostgreSQL); None keeps them in this process."""
        self._settings = settings
        self._store = store
        self._clock = clock
        self._buckets: dict[int, LocalBucket | SharedBucket | None] = {}  # None: unlimited

    def _bucket(self, account_id: int, username: str) -> LocalBucket | SharedBucket | None:
        rate = self._settings.of(username)
        bucket: LocalBucket | SharedBucket | None = None
        if rate.per_s > 0:
            if self._store is None:
                bucket = LocalBucket(rate, self._clock())
            else:
                bucket = SharedBucket(
                    self._store, account_id, rate, self._settings.hold_s, self._clock
                )
        self._buckets[account_id] = bucket
        return bucket

    async def check(self, account_id: int, username: str) -> float:
        try:
            bucket = self._buckets[account_id]
        except KeyError:
            bucket = self._bucket(account_id, username)
        if bucket is None:
            return 0.0
        if isinstance(bucket, LocalBucket):
            return bucket.take(self._clock())
        return await bucket.take()
