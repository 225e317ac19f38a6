"""Signatures on outgoing webhooks: Messente's header and Standard Webhooks, both on every POST.

One secret string per account (in practice 64 hex characters) keys both signatures:

- ``X-Messente-Signature``: lowercase hex of HMAC-SHA256 over the raw body, keyed with the UTF-8
  bytes of the secret string, exactly as Messente signs its own delivery reports.
- Standard Webhooks 1.0 (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<b64>``):
  HMAC-SHA256 over ``f"{id}.{timestamp}.{body}"``, keyed with the **same** bytes, the UTF-8 bytes
  of the secret string. The key is *not* hex-decoded: the mapping works for any secret, and one key
  serves both headers. A receiver verifies with the ``standardwebhooks`` library by passing
  ``standard_webhooks_secret(secret)`` (``"whsec_" + base64(secret.encode())``), or the raw bytes
  ``secret.encode()``, to ``standardwebhooks.Webhook(...)``.

``webhook-id`` should stay the same across retries of one report (it is the receiver's
de-duplication key); ``webhook-timestamp`` is the time of *this* attempt, in whole Unix seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime

from standardwebhooks import Webhook

__all__ = [
    "MESSENTE_SIGNATURE_HEADER",
    "USER_AGENT",
    "messente_signature",
    "sign_headers",
    "standard_headers",
    "standard_signature",
    "standard_webhooks_key",
    "standard_webhooks_secret",
]

MESSENTE_SIGNATURE_HEADER = "X-Messente-Signature"
USER_AGENT = "Tidings-Webhooks/0.1"

# Printable ASCII without spaces or commas: safe in a header and unambiguous in the signed content.
_MSG_ID = re.compile(r"[\x21-\x2b\x2d-\x7e]{1,256}")


def _key(secret: str) -> bytes:
    if not secret:
        raise ValueError("webhook signing secret must not be empty")
    return secret.encode("utf-8")


def messente_signature(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body (the ``X-Messente-Signature`` value)."""
    return hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def standard_webhooks_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key for an account secret: its UTF-8 bytes."""
    return _key(secret)


def standard_webhooks_secret(secret: str) -> str:
    """The ``whsec_...`` form of the key, what a receiver passes to ``standardwebhooks.Webhook``."""
    return "whsec_" + base64.b64encode(_key(secret)).decode("ascii")


def standard_signature(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.

    The body must be UTF-8 (every JSON body is); the ``standardwebhooks`` library signs text.
    """
    if not _MSG_ID.fullmatch(msg_id):
        raise ValueError("webhook id must be 1-256 printable ASCII characters, no space or comma")
    if isinstance(timestamp_s, bool) or not isinstance(timestamp_s, int) or timestamp_s < 0:
        raise ValueError("webhook timestamp must be a non-negative integer (Unix seconds)")
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    at = datetime.fromtimestamp(timestamp_s, tz=UTC)
    return Webhook(standard_webhooks_key(secret)).sign(msg_id, at, text)


def standard_headers(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": standard_signature(secret, msg_id, timestamp_s, body),
    }


def sign_headers(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    """Every header of a webhook POST: both signatures, ``Content-Type`` and ``User-Agent``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        MESSENTE_SIGNATURE_HEADER: messente_signature(secret, body),
        **standard_headers(secret, msg_id, timestamp_s, body),
    }
