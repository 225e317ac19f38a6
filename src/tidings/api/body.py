"""Reading a JSON request body: size limit, then strict JSON, both as Messente errors."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from tidings.api.errors import ApiError, error
from tidings.core.errors import INVALID


async def read_json(request: Request, max_bytes: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise error(400, INVALID, "The request body is empty; a JSON object is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise error(400, INVALID, f"The request body is not valid JSON: {exc}") from None


def _too_large(max_bytes: int) -> ApiError:
    return error(413, INVALID, f"The request body is larger than {max_bytes} bytes")
