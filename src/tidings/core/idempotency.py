"""`Idempotency-Key`: what a key may be, and what makes two requests "the same request".

A key is 1 to 255 printable ASCII characters (space to `~`): enough for a UUID, a ULID or a
client's own `order-1234/attempt`; anything else (empty, longer, a control character such as
NUL, non-ASCII) is refused with a 400 naming `Idempotency-Key`.

Two requests with the same key are the same request when their fingerprints are equal: the
SHA-256 of the method, the path, the query (its pairs sorted) and the body, where a JSON body
counts as its value (object keys sorted, no insignificant whitespace: `{"a":1, "b":2}` and
`{"b":2,"a":1}` are the same request) and any other body as its bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEEP_US = 24 * 3600 * 1_000_000  # a key is kept (and its answer replayed) for 24 hours


def key_problem(raw: str) -> str | None:
    """Why `raw` (the header's value) is not a usable key; None when it is."""
    if not raw:
        return f"{HEADER} must not be empty"
    if len(raw) > MAX_KEY_LENGTH:
        return f"{HEADER} must be at most {MAX_KEY_LENGTH} characters (got {len(raw)})"
    if not all(" " <= c <= "~" for c in raw):
        return f"{HEADER} must hold printable ASCII characters only (space to ~)"
    return None


def canonical_json(value: Any) -> bytes:
    """A JSON value's canonical text: object keys sorted at every depth, no whitespace."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def fingerprint(method: str, path: str, query: Iterable[tuple[str, str]], body: bytes) -> str:
    """The hex SHA-256 that identifies a request (`body` already canonical where it can be)."""
    h = hashlib.sha256()
    for part in (method.upper(), path, orjson.dumps(sorted(query)).decode()):
        h.update(part.encode())
        h.update(b"\n")
    h.update(body)
    return h.hexdigest()
