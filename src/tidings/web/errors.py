"""Every error answer in the Messente format, whatever raised it."""

from __future__ import annotations

import logging
import math
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tidings.core.errors import (
    FORBIDDEN,
    INTERNAL,
    INVALID,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNAUTHORIZED,
    ErrorItem,
    RequestInvalid,
    errors_body,
    phonebook_pair,
)
from tidings.store.errors import is_storage_full, is_storage_unavailable
from tidings.web.responses import json_response

log = logging.getLogger("tidings.web.api")


class ApiError(Exception):
    """An error answer: status code plus Messente error items."""

    def __init__(self, status: int, errors: list[ErrorItem], headers: dict[str, str] | None = None):
        super().__init__(errors[0].detail if errors else str(status))
        self.status = status
        self.errors = errors
        self.headers = headers


def error(status: int, pair: tuple[str, str], detail: str, source: str | None = None) -> ApiError:
    return ApiError(status, [ErrorItem(pair[0], pair[1], detail, source)])


def not_found(detail: str = "No such omnimessage, or it is not yours") -> ApiError:
    return error(404, NOT_FOUND, detail)


def unauthorized() -> ApiError:
    return ApiError(
        401,
        [ErrorItem(UNAUTHORIZED[0], UNAUTHORIZED[1], "Valid HTTP Basic credentials are required")],
        {"WWW-Authenticate": 'Basic realm="Tidings", charset="UTF-8"'},
    )


def too_many(retry_after_s: float, detail: str) -> ApiError:
    """429 in the error format. Messente's code list has no "too many requests": it is a refusal,
    so "Forbidden"/"102"; `Retry-After` says when to come back (whole seconds, at least 1)."""
    seconds = max(1, math.ceil(retry_after_s))
    return ApiError(
        429,
        [ErrorItem(FORBIDDEN[0], FORBIDDEN[1], f"{detail}; retry after {seconds} s")],
        {"Retry-After": str(seconds)},
    )


# Messente's Phonebook API answers its errors with its own title/code pairs (ErrorPhonebook).
PHONEBOOK_PREFIX = "/v1/phonebook/"


def phonebook_error(exc: ApiError) -> ApiError:
    """The same refusal with the Phonebook API's title and code for its status."""
    title, code = phonebook_pair(exc.status)
    items = [ErrorItem(title, code, e.detail, e.source) for e in exc.errors]
    return ApiError(exc.status, items, exc.headers)


def error_response(exc: ApiError, request: Request | None = None) -> Response:
    """The error answer; under /v1/phonebook/ (`request` given) in the Phonebook's codes."""
    if request is not None and request.url.path.startswith(PHONEBOOK_PREFIX):
        exc = phonebook_error(exc)
    return json_response(errors_body(exc.errors), exc.status, headers=exc.headers)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc, request)


async def handle_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestInvalid)
    return error_response(ApiError(400, exc.errors), request)


_HTTP_PAIRS: dict[int, tuple[str, str]] = {
    400: INVALID,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
}


async def handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    pair = _HTTP_PAIRS.get(exc.status_code, INVALID if exc.status_code < 500 else INTERNAL)
    detail = {404: "No such resource", 405: f"Method {request.method} not allowed here"}.get(
        exc.status_code, str(exc.detail)
    )
    headers: dict[str, Any] | None = dict(exc.headers) if exc.headers else None
    error = ApiError(exc.status_code, [ErrorItem(pair[0], pair[1], detail)], headers)
    return error_response(error, request)


STORAGE_FULL_RETRY_S = 30
STORAGE_UNAVAILABLE_RETRY_S = 5  # a database restart takes seconds


def _unavailable(request: Request, detail: str, retry_s: int) -> Response:
    return error_response(
        ApiError(
            503,
            [ErrorItem("Service Unavailable", INTERNAL[1], detail)],
            {"Retry-After": str(retry_s)},
        ),
        request,
    )


async def handle_storage(request: Request, exc: Exception) -> Response:
    """A full or unreachable database is a 503 the client can retry, not a bug; any other
    driver error is."""
    if is_storage_full(exc):
        log.error("action=storage_full path=%s error=%s", request.url.path, exc)
        return _unavailable(
            request,
            "The database is full: nothing was stored; try again later",
            STORAGE_FULL_RETRY_S,
        )
    if is_storage_unavailable(exc):
        log.warning(
            "action=storage_unavailable path=%s error=%s: %s",
            request.url.path,
            type(exc).__name__,
            exc,
        )
        return _unavailable(
            request, "The database is unavailable; try again shortly", STORAGE_UNAVAILABLE_RETRY_S
        )
    raise exc


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("action=unhandled_error path=%s", request.url.path, exc_info=exc)
    return error_response(
        error(500, INTERNAL, "Internal error; the request was not completed"), request
    )
