"""The Omnichannel API v1 endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from tidings.core.contract.responses import (
    BulkOmniMessageCreateSuccessResponse,
    ErrorOmnichannel,
    OmniMessageCreateSuccessResponse,
)
from tidings.core.errors import INVALID, RequestInvalid, errors_body
from tidings.core.phone import normalise_msisdn
from tidings.core.strict_int import parse_int
from tidings.store.records import CancelResult, NewOmnimessage
from tidings.web.api.body import read_json
from tidings.web.api.idempotency import answer_for
from tidings.web.api.serialize import sandbox_message, send_result, status_body
from tidings.web.context import ApiContext, account_of, recheck
from tidings.web.errors import ApiError, error, not_found
from tidings.web.responses import json_response

SANDBOX_LIMIT_MAX = 1000
SANDBOX_LIMIT_DEFAULT = 100
_ACCEPT_TRIES = 2


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _omni_id(request: Request) -> str:
    raw = str(request.path_params["omnimessage_id"])
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise not_found() from None


async def _body(request: Request, max_bytes: int) -> object:
    """The JSON body; an unreadable one is answered only to a caller whose account has not
    changed since its credential was remembered (else 401). The front door's own account checks
    (`reauthenticate`) answer for themselves."""
    try:
        return await read_json(request, max_bytes)
    except ApiError:
        await recheck(request)
        raise


def _sent(outcomes: Sequence[NewOmnimessage | RequestInvalid]) -> Response:
    (record,) = outcomes
    assert not isinstance(record, RequestInvalid)
    return json_response(send_result(record), 201)


def _sent_bulk(items: Sequence[NewOmnimessage | RequestInvalid]) -> Response:
    out: list[OmniMessageCreateSuccessResponse | ErrorOmnichannel] = [
        errors_body(item.errors) if isinstance(item, RequestInvalid) else send_result(item)
        for item in items
    ]
    body: BulkOmniMessageCreateSuccessResponse = {"messages": out}
    return json_response(body, 201)


async def send_omnimessage(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request, current=False)
    data = await _body(request, ctx.settings.max_body_bytes)
    try:
        record = await ctx.engine.submit(
            account,
            data,
            reauthenticate=lambda: recheck(request),
            answer=answer_for(request, _sent),
        )
    except RequestInvalid:
        await recheck(request)  # no answer about the body to a caller whose account changed
        raise
    return _sent([record])


async def send_bulk(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request, current=False)
    data = await _body(request, ctx.settings.max_bulk_body_bytes)
    try:
        items = await ctx.engine.submit_bulk(
            account,
            data,
            reauthenticate=lambda: recheck(request),
            answer=answer_for(request, _sent_bulk),
        )
    except RequestInvalid:
        await recheck(request)
        raise
    return _sent_bulk(items)


async def cancel_omnimessage(request: Request) -> Response:
    ctx = _ctx(request)
    # The account's version is checked in the cancelling transaction (no read of its own).
    account = await account_of(request, current=False)
    result = await ctx.engine.cancel(
        account, _omni_id(request), reauthenticate=lambda: recheck(request)
    )
    if result == CancelResult.NOT_FOUND:
        raise not_found(
            "No scheduled omnimessage with this id: it was already sent, or does not exist"
        )
    return json_response({}, 202)


async def omnimessage_status(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    view = await ctx.engine.status(account, _omni_id(request))
    if view is None:
        raise not_found()
    return json_response(status_body(view), 200)


async def sandbox_messages(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    to = request.query_params.get("to")
    if to is not None:
        try:
            # An unencoded "+" in a query string arrives as a space.
            to = normalise_msisdn("+" + to[1:] if to.startswith(" ") else to)
        except ValueError as exc:
            raise error(400, INVALID, str(exc), "to") from None
    limit = parse_int(
        request.query_params.get("limit", str(SANDBOX_LIMIT_DEFAULT)), 1, SANDBOX_LIMIT_MAX
    )
    if limit is None:
        detail = f"limit must be a whole number from 1 to {SANDBOX_LIMIT_MAX}"
        raise error(400, INVALID, detail, "limit")
    msgs = await ctx.store.sandbox.page(account.id, to, limit)
    return json_response({"messages": [sandbox_message(m) for m in msgs]})
