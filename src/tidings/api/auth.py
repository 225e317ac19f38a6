"""HTTP Basic auth against hashed account passwords, with a short-lived verified-credential cache.

Argon2id verification costs tens of milliseconds by design; caching the SHA-256 of a verified
password for a minute keeps it off the hot path. Comparisons are constant-time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tidings.store.base import Store
from tidings.store.records import Account

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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


class Authenticator:
    def __init__(self, store: Store, ttl_s: float = 60.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._cache: dict[str, tuple[Account, bytes, float]] = {}
        self._inflight: dict[tuple[str, bytes], asyncio.Future[Account | None]] = {}

    def forget(self, username: str | None = None) -> None:
        if username is None:
            self._cache.clear()
        else:
            self._cache.pop(username, None)

    async def authenticate(self, header: str | None) -> Account | None:
        creds = parse_basic(header)
        if creds is None:
            return None
        user, password = creds
        digest = hashlib.sha256(password.encode()).digest()
        hit = self._cache.get(user)
        if hit is not None and hit[2] > time.monotonic():
            return hit[0] if hmac.compare_digest(hit[1], digest) else None
        # Concurrent requests with the same credentials share one (deliberately slow) check.
        key = (user, digest)
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._verify(user, password, digest))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(pending)

    async def _verify(self, user: str, password: str, digest: bytes) -> Account | None:
        account = await self._store.get_account(user)
        stored = account.password_hash if account else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, stored, password)
        if account is None or not ok:
            return None
        self._cache[user] = (account, digest, time.monotonic() + self._ttl)
        return account
