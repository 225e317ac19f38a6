"""`Idempotency-Key` on the API's POST, PATCH and DELETE routes (a Tidings extension).

A route opts in with one line, `Route(path, idempotent(handler), ...)`. A request without the
header goes straight to the handler (nothing read, nothing written). With it:

1. the key is checked (400, source `Idempotency-Key`), the caller authenticated (401/429 before
   anything about the key), the body read (as the route will read it) and fingerprinted
   (core/idempotency.py);
2. the key's row is read; a repeat of a request that was answered gets that answer again
   (status, body, headers, plus `Idempotent-Replayed: true`) without acting; the same key with
   another request (another fingerprint) is a 422;
3. a repeat whose first request is still in flight **waits** for its answer, polling, up to
   `ApiSettings.idempotency_wait_s` (10 s; `TIDINGS_IDEMPOTENCY_WAIT_SECONDS`), then gets a 409
   with `Retry-After: 1` (nothing done; retry later with the same key);
4. otherwise the key is claimed (store/idempotency.py: committed before acting, so concurrent
   first requests, in this process or another on the same PostgreSQL database, see it and one
   acts), the handler runs, and its answer is kept for 24 hours. A 5xx, 401 or 429 is not kept:
   the claim is released and the next try acts.

The send endpoints hand the answer to the transaction that stores the messages
(`answer_for`): the key says done exactly when the messages are stored. Other routes (cancel)
record it in a transaction of their own after acting; for cancel that window is harmless, since
cancelling a cancelled message changes nothing and answers the same 202.

The keys are the API's own record of its answers, read and written through `ctx.store`'s
`idempotency` port; what a route does still goes through the engine.

A claim still pending after `STALE_CLAIM_S` belongs to a request that died; the next repeat takes
it over and acts (for a send, the dead request stored nothing: its answer would have been in the
same transaction).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tidings.core.errors import INVALID, RequestInvalid, invalid
from tidings.core.idempotency import HEADER, KEEP_US, canonical_json, fingerprint, key_problem
from tidings.store.idempotency import Claimed, KeyLost
from tidings.store.records import KeyAnswer, KeyRow
from tidings.web.api.body import read_raw
from tidings.web.context import ApiContext, account_of
from tidings.web.errors import ApiError, error, error_response
from tidings.web.strict_json import loads_strict

log = logging.getLogger("tidings.web.api")

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")

REPLAYED_HEADER = "Idempotent-Replayed"
STALE_CLAIM_S = 60.0  # a claim pending this long belongs to a request that died
_POLL_S = 0.05  # how often a waiting repeat looks at the key again
_NOT_KEPT_HEADERS = frozenset({b"content-length", b"date", b"server"})


def _never_kept(status: int) -> bool:
    """Answers a retry must not get again: server errors, and refusals of the caller itself
    (credentials, rate) that say nothing about the request."""
    return status >= 500 or status in (401, 429)


@dataclass(slots=True)
class KeyClaim:
    """This request's hold on its key, kept in `request.state.idempotency`."""

    account_id: int
    key: str
    token: int
    recorded: bool = False  # the answer went into the transaction that acted

    def answer(self, response: Response) -> KeyAnswer:
        headers = [
            [k.decode("latin-1"), v.decode("latin-1")]
            for k, v in response.raw_headers
            if k not in _NOT_KEPT_HEADERS
        ]
        return KeyAnswer(
            self.account_id,
            self.key,
            self.token,
            response.status_code,
            orjson.dumps(headers).decode(),
            bytes(response.body),
        )


def answer_for(
    request: Request, render: Callable[[Sequence[T]], Response]
) -> Callable[[Sequence[T]], KeyAnswer] | None:
    """For a route that acts in one transaction: the function that turns what it stored into
    the answer to record there (None without a key). `render` must be the route's own answer."""
    claim: KeyClaim | None = getattr(request.state, "idempotency", None)
    if claim is None:
        return None

    def record(outcomes: Sequence[T]) -> KeyAnswer:
        answer = claim.answer(render(outcomes))
        claim.recorded = True
        return answer

    return record


def idempotent(handler: Handler) -> Handler:
    """`handler` with the Idempotency-Key behaviour (see the module's description)."""

    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        values = request.headers.getlist(HEADER)
        if not values:
            return await handler(request)
        return await _with_key(request, values, handler)

    return route


def _request_fingerprint(request: Request, body: bytes) -> str:
    try:
        canonical = canonical_json(loads_strict(body)) if body.strip() else b""
    except RequestInvalid:
        canonical = body  # not JSON: the route will refuse it; the bytes are the request
    return fingerprint(
        request.method, request.url.path, request.query_params.multi_items(), body=canonical
    )


def replay(row: KeyRow) -> Response:
    headers: list[list[str]] = orjson.loads(row.headers or "[]")
    response = Response(row.body or b"", row.status or 200)
    response.raw_headers = [
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        *response.raw_headers,  # content-length of the body
        (REPLAYED_HEADER.lower().encode(), b"true"),
    ]
    return response


async def _with_key(request: Request, values: list[str], handler: Handler) -> Response:
    ctx: ApiContext = request.app.state.ctx
    account = await account_of(request)  # current: a replay is an answer like any other
    if len(values) > 1:
        raise error(400, INVALID, f"Send one {HEADER} header, not {len(values)}", HEADER)
    key = values[0]
    if (problem := key_problem(key)) is not None:
        raise error(400, INVALID, problem, HEADER)
    body = await read_raw(request, ctx.settings.max_bulk_body_bytes)
    fp = _request_fingerprint(request, body)
    keys = ctx.store.idempotency
    clock = ctx.engine.clock
    give_up_at = clock.monotonic() + ctx.settings.idempotency_wait_s
    while True:
        now = clock.now_us()
        row = await keys.get(account.id, key)
        if row is None or _claimable(row, now):
            got = await keys.claim(
                account.id,
                key,
                fp,
                secrets.randbits(62),
                now,
                expired_before=now - KEEP_US,
                stale_before=now - int(STALE_CLAIM_S * 1_000_000),
            )
            if isinstance(got, Claimed):
                return await _act(request, handler, KeyClaim(account.id, key, got.token))
            row = got
        if row.request_hash != fp:
            raise error(
                422,
                INVALID,
                f"This {HEADER} was used for another request (another method, path or body); "
                "use a new key for a new request",
                HEADER,
            )
        if row.state == "done":
            return replay(row)
        if clock.monotonic() >= give_up_at:
            raise _conflict(
                f"The first request with this {HEADER} is still in progress; retry with the "
                "same key"
            )
        await asyncio.sleep(_POLL_S)


def _claimable(row: KeyRow, now_us: int) -> bool:
    """Expired (older than 24 h), or pending so long that its request must have died."""
    return row.created_us < now_us - KEEP_US or (
        row.state == "pending" and row.claimed_us < now_us - int(STALE_CLAIM_S * 1_000_000)
    )


async def _act(request: Request, handler: Handler, claim: KeyClaim) -> Response:
    ctx: ApiContext = request.app.state.ctx
    keys = ctx.store.idempotency
    request.state.idempotency = claim
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_response(exc, request)
    except RequestInvalid as exc:
        response = error_response(ApiError(400, exc.errors), request)
    except KeyLost:
        await _release(ctx, claim)
        raise _conflict(
            f"This request's hold on its {HEADER} ran out before it finished; nothing was "
            "stored: retry with the same key"
        ) from None
    except Exception:
        await _release(ctx, claim)
        raise
    body: Any = getattr(response, "body", None)
    if _never_kept(response.status_code) or not isinstance(body, bytes):
        await _release(ctx, claim)
    elif not claim.recorded:
        try:
            await keys.finish(claim.answer(response))
        except KeyLost:
            log.warning("action=idempotency_key_lost key_len=%d", len(claim.key))
    return response


def _conflict(detail: str) -> ApiError:
    return ApiError(409, [invalid(detail, HEADER)], {"Retry-After": "1"})


async def _release(ctx: ApiContext, claim: KeyClaim) -> None:
    try:
        await ctx.store.idempotency.release(claim.account_id, claim.key, claim.token)
    except Exception:  # the claim goes stale and is taken over (STALE_CLAIM_S)
        log.warning("action=idempotency_release_failed", exc_info=True)
