"""Reading a JSON request body: media type, size limit, then strict JSON, as Messente errors.

Only `application/json` (parameters such as `charset` allowed) is read: a browser can send
`text/plain`, form-encoded or multipart bodies cross-site without asking first (no CORS
preflight), with the Basic credentials it has cached, so accepting those would let any web
page send messages as a signed-in user.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tidings.core.errors import INVALID
from tidings.core.strict_int import parse_int
from tidings.web.errors import ApiError, error
from tidings.web.strict_json import loads_strict

JSON_MEDIA_TYPE = "application/json"


def is_json_media_type(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == JSON_MEDIA_TYPE


async def read_raw(request: Request, max_bytes: int) -> bytes:
    """The body's bytes, at most `max_bytes` (else 413). Read once per request: a later call
    (the route's own, after the Idempotency-Key check read it) gets the same bytes, checked
    against its own limit."""
    kept: bytes | None = getattr(request.state, "raw_body", None)
    if kept is not None:
        if len(kept) > max_bytes:
            raise _too_large(max_bytes)
        return kept
    declared = parse_int(request.headers.get("content-length"), 0)
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    request.state.raw_body = raw
    return raw


async def read_json(request: Request, max_bytes: int) -> Any:
    if not is_json_media_type(request.headers.get("content-type")):
        raise error(
            415,
            INVALID,
            "The request body must be JSON, sent with Content-Type: application/json",
        )
    raw = await read_raw(request, max_bytes)
    if not raw.strip():
        raise error(400, INVALID, "The request body is empty; a JSON object is required")
    return loads_strict(raw)


def _too_large(max_bytes: int) -> ApiError:
    return error(413, INVALID, f"The request body is larger than {max_bytes} bytes")
