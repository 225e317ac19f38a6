"""The console's session: a signed cookie (HMAC-SHA256), a per-session CSRF token, sign-in limits.

The cookie carries no secret: who is signed in, a fingerprint of their password hash (so changing
the password signs every session out), the CSRF token and an expiry, signed with a key kept in
the database so that every process, and every restart, accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace

import orjson

COOKIE = "tidings_session"
MAX_AGE_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    username: str | None = None
    account_id: int | None = None
    fingerprint: str | None = None
    expires: int = 0

    @staticmethod
    def anonymous() -> Session:
        return Session(csrf=secrets.token_urlsafe(24), expires=int(time.time()) + MAX_AGE_S)

    def signed_in(self, username: str, account_id: int, password_hash: str) -> Session:
        # A fresh CSRF token at sign-in: one seen before it is worth nothing after.
        return replace(
            Session.anonymous(),
            username=username,
            account_id=account_id,
            fingerprint=fingerprint(password_hash),
        )


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def dumps(self, s: Session) -> str:
        payload = _b64(
            orjson.dumps(
                {
                    "c": s.csrf,
                    "u": s.username,
                    "a": s.account_id,
                    "f": s.fingerprint,
                    "e": s.expires,
                }
            )
        )
        return f"{payload}.{self._mac(payload)}"

    def loads(self, value: str | None) -> Session | None:
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = orjson.loads(_unb64(payload))
            s = Session(
                csrf=str(data["c"]),
                username=None if data["u"] is None else str(data["u"]),
                account_id=None if data["a"] is None else int(data["a"]),
                fingerprint=None if data["f"] is None else str(data["f"]),
                expires=int(data["e"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return s if s.expires > time.time() else None


def csrf_ok(session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf.encode(), token.encode())


class SignInLimiter:
    """At most `attempts` failed sign-ins per client address and per username in `window_s`."""

    def __init__(self, attempts: int = 10, window_s: float = 300.0) -> None:
        self._attempts = attempts
        self._window = window_s
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if t > now - self._window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def blocked(self, client: str, username: str) -> bool:
        now = time.monotonic()
        return any(
            len(self._recent(k, now)) >= self._attempts for k in (f"ip:{client}", f"u:{username}")
        )

    def failed(self, client: str, username: str) -> None:
        now = time.monotonic()
        if len(self._failures) > 10_000:  # bounded memory under a spray of names
            self._failures.clear()
        for k in (f"ip:{client}", f"u:{username}"):
            self._failures.setdefault(k, []).append(now)

    def succeeded(self, client: str, username: str) -> None:
        self._failures.pop(f"u:{username}", None)
