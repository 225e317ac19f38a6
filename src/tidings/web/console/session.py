"""The console's cookies: the session (signed, with its CSRF token) and the device token.

Signing in creates a server-side session (`console_sessions`): the cookie carries a random token
whose SHA-256 names the row, and every page looks the row up. Signing out deletes the row, and a
password change or account removal deletes all of the account's rows, so a copy of the cookie
stops working at once, in every process. The cookie itself is signed (HMAC-SHA256, key kept in the
database) so that its CSRF token cannot be forged.

The device cookie is issued at a successful sign-in and names the browser for the sign-in limits
(api/guard.py): a browser that has signed in as a user before is limited on its own token, so
someone guessing that user's password from the same address cannot lock it out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

import orjson

COOKIE = "tidings_session"
DEVICE_COOKIE = "tidings_device"
MAX_AGE_S = 7 * 24 * 3600
DEVICE_MAX_AGE_S = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    token: str | None = None  # the server-side session's token, once signed in
    expires: int = 0

    @staticmethod
    def anonymous() -> Session:
        return Session(csrf=secrets.token_urlsafe(24), expires=int(time.time()) + MAX_AGE_S)

    def signed_in(self) -> Session:
        # A fresh CSRF token at sign-in: one seen before it is worth nothing after.
        return replace(Session.anonymous(), token=secrets.token_urlsafe(32))


@dataclass(frozen=True, slots=True)
class Device:
    username: str
    token: str
    expires: int

    @staticmethod
    def new(username: str) -> Device:
        return Device(username, secrets.token_urlsafe(24), int(time.time()) + DEVICE_MAX_AGE_S)


def token_hash(token: str) -> str:
    """What the database keeps of a session token: its SHA-256 (a leaked table opens nothing)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def _sign(self, data: dict[str, Any]) -> str:
        payload = _b64(orjson.dumps(data))
        return f"{payload}.{self._mac(payload)}"

    def _open(self, value: str | None, kind: str) -> dict[str, Any] | None:
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = orjson.loads(_unb64(payload))
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("k") != kind:
            return None
        return data

    def dumps(self, s: Session) -> str:
        return self._sign({"k": "s", "c": s.csrf, "t": s.token, "e": s.expires})

    def loads(self, value: str | None) -> Session | None:
        data = self._open(value, "s")
        if data is None:
            return None
        try:
            s = Session(
                csrf=str(data["c"]),
                token=None if data["t"] is None else str(data["t"]),
                expires=int(data["e"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return s if s.expires > time.time() else None

    def dumps_device(self, d: Device) -> str:
        return self._sign({"k": "d", "u": d.username, "t": d.token, "e": d.expires})

    def loads_device(self, value: str | None) -> Device | None:
        data = self._open(value, "d")
        if data is None:
            return None
        try:
            d = Device(str(data["u"]), str(data["t"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return d if d.expires > time.time() else None


def csrf_ok(session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf.encode(), token.encode())
