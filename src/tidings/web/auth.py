"""HTTP Basic auth against Argon2id password hashes.

Argon2id costs tens of milliseconds of CPU by design, so a verified credential is remembered: per
username, an HMAC of the password under a key of this process (never the password), the account
row as verified, and the client addresses it was verified from. Only successes are remembered. A
request whose password does not match, from an address it was not verified from, or whose account
changed, takes the full path:

1. the guessing limits (api/guard.py): 429 while the client, its address or the username waits;
2. the account row, and one real Argon2 check, against a dummy hash for an unknown username, so
   an unknown user and a wrong password cost and answer the same. The checks run on a small thread
   pool (`verify_concurrency`, default half the cores) with at most `verify_queue` waiting, beyond
   which the answer is 429: guessing cannot take the CPU from the requests of signed-in clients;
3. the outcome goes back to the limits.

A remembered credential is checked against the account's `version` (bumped by every change of the
row; a removed account has none) on every request: the send endpoints check it inside the
transaction that stores the message (engine/accepter.py), the others with one indexed read shared
by all requests waiting at that moment. So a password change or removal, made by any process,
takes effect on the next request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter

from tidings.core.passwords import DUMMY_HASH, verify_password
from tidings.store.base import Store
from tidings.store.records import Account
from tidings.web.guard import Attempt, Guard, GuardSettings, TooManyAttempts

__all__ = [
    "AuthSettings",
    "Authenticator",
    "TooManyAttempts",
    "parse_basic",
]


def parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    # No account name or password holds a NUL (PostgreSQL could not even look it up): refused
    # here, like any other wrong credentials.
    return (user, password) if sep and "\x00" not in decoded else None


@dataclass(frozen=True, slots=True)
class AuthSettings:
    verify_concurrency: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    verify_queue: int = 32  # password checks waiting for a thread; beyond: 429 at once
    cache_size: int = 10_000  # verified credentials remembered (the oldest go first)
    addresses_per_account: int = 256
    guard: GuardSettings = field(default_factory=GuardSettings)


@dataclass(slots=True)
class _Verified:
    account: Account
    digest: bytes
    addresses: dict[str, None]  # insertion-ordered: the oldest is dropped first


class _Versions:
    """Current account versions, read in batches: each caller waits for a read that *started*
    after it asked, so it sees every change committed before its request arrived."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: dict[int, list[asyncio.Future[int | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def current(self, account_id: int) -> int | None:
        fut: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(account_id, []).append(fut)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="tidings-account-versions")
        return await fut

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                versions = await self._store.accounts.versions(list(batch))
            except Exception as exc:
                for futs in batch.values():
                    for f in futs:
                        if not f.done():
                            f.set_exception(exc)
                continue
            for account_id, futs in batch.items():
                for f in futs:
                    if not f.done():
                        f.set_result(versions.get(account_id))


class AuthMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry or CollectorRegistry()
        self.password_checks = Counter(
            "tidings_auth_password_checks",
            "Argon2 password verifications run (every wrong password costs one)",
            registry=r,
        )
        self.failures = Counter(
            "tidings_auth_failures", "Credentials refused after a password check", registry=r
        )
        self.refused = Counter(
            "tidings_auth_refused",
            "Requests answered 429 before any password check (backoff, busy) or by the"
            " account's rate limit (rate)",
            ["reason"],
            registry=r,
        )


class Authenticator:
    def __init__(
        self,
        store: Store,
        settings: AuthSettings | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = s = settings or AuthSettings()
        self.metrics = AuthMetrics(registry)
        self.guard = Guard(store, s.guard)
        self._store = store
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, _Verified] = {}
        self._versions = _Versions(store)
        self._checks: dict[tuple[str, bytes], asyncio.Future[Account | None]] = {}
        self._pool = ThreadPoolExecutor(s.verify_concurrency, thread_name_prefix="tidings-argon2")
        self._queued = 0

    def _digest(self, username: str, password: str) -> bytes:
        # Keyed BLAKE2b: a MAC in one call, so the hot path stays cheap.
        data = f"{username}\x00{password}".encode()
        return hashlib.blake2b(data, key=self._key, digest_size=32).digest()

    async def authenticate(
        self, header: str | None, address: str, *, current: bool = True
    ) -> Account | None:
        """The account these Basic credentials sign in to, or None (401). `TooManyAttempts` while
        guessing from this client is held back. `current=False` skips the version check of a
        remembered credential: the caller checks the version itself (the send endpoints)."""
        creds = parse_basic(header)
        if creds is None:
            return None
        user, password = creds
        digest = self._digest(user, password)
        known = self._verified.get(user)
        if (
            known is not None
            and address in known.addresses
            and hmac.compare_digest(known.digest, digest)
        ):
            if not current:
                return known.account
            if await self._versions.current(known.account.id) == known.account.version:
                return known.account
        return await self.check_password(user, password, address)

    async def check_password(
        self, username: str, password: str, address: str, device: str | None = None
    ) -> Account | None:
        """The full path: limits, the account row, one Argon2 check (shared by identical
        concurrent attempts of one client). `device`: a console browser's device token."""
        if "\x00" in username or "\x00" in password:
            # No account name or password holds a NUL (PostgreSQL cannot even store one in a
            # key): wrong credentials, at the cost of any other wrong password.
            await self._argon2(DUMMY_HASH, password)
            self.metrics.failures.inc()
            return None
        try:
            attempt = await self.guard.admit(username, address, device)
        except TooManyAttempts:
            self.metrics.refused.labels("backoff").inc()
            raise
        digest = self._digest(username, password)
        key = (attempt.keys.client, digest)
        pending = self._checks.get(key)
        if pending is None:
            self.guard.begin(attempt)
            pending = asyncio.ensure_future(
                self._verify(username, password, digest, address, attempt)
            )
            self._checks[key] = pending
            pending.add_done_callback(lambda _: self._checks.pop(key, None))
        return await asyncio.shield(pending)

    async def _verify(
        self, username: str, password: str, digest: bytes, address: str, attempt: Attempt
    ) -> Account | None:
        try:
            account = await self._store.accounts.get(username)
            known = self._verified.get(username)
            if (
                account is not None
                and known is not None
                and known.account.password_hash == account.password_hash
                and hmac.compare_digest(known.digest, digest)
            ):
                ok = True  # this very password was verified against this very hash
            else:
                ok = await self._argon2(account.password_hash if account else DUMMY_HASH, password)
            if account is None or not ok:
                self.metrics.failures.inc()
                if known is not None:
                    known.addresses.pop(address, None)
                await self.guard.failed(attempt)
                return None
            self._remember(account, digest, address)
            await self.guard.succeeded(attempt)
            return account
        finally:
            self.guard.end(attempt)

    async def _argon2(self, password_hash: str, password: str) -> bool:
        s = self.settings
        if self._queued >= s.verify_concurrency + s.verify_queue:
            self.metrics.refused.labels("busy").inc()
            raise TooManyAttempts(1.0)
        self._queued += 1
        try:
            self.metrics.password_checks.inc()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, verify_password, password_hash, password)
        finally:
            self._queued -= 1

    def _remember(self, account: Account, digest: bytes, address: str) -> None:
        known = self._verified.pop(account.username, None)
        if (
            known is None
            or known.account.password_hash != account.password_hash
            or not hmac.compare_digest(known.digest, digest)
        ):
            known = _Verified(account, digest, {})
        known.account = account
        known.addresses.pop(address, None)
        known.addresses[address] = None
        if len(known.addresses) > self.settings.addresses_per_account:
            del known.addresses[next(iter(known.addresses))]
        self._verified[account.username] = known
        if len(self._verified) > self.settings.cache_size:
            del self._verified[next(iter(self._verified))]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
