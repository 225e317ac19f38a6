"""The Omnichannel API v1 endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from tidings.core.contract.responses import (
    BulkOmniMessageCreateSuccessResponse,
    ErrorOmnichannel,
    OmniMessageCreateSuccessResponse,
)
from tidings.core.errors import INVALID, ErrorItem, RequestInvalid, errors_body, invalid
from tidings.core.model import OmnimessageRequest
from tidings.core.phone import normalise_msisdn
from tidings.core.strict_int import parse_int
from tidings.core.validation import validate_bulk, validate_omnimessage
from tidings.engine.accepter import AccountChanged
from tidings.store.records import Account, CancelResult, NewOmnimessage
from tidings.web.api.body import read_json
from tidings.web.api.serialize import sandbox_message, send_result, status_body
from tidings.web.context import ApiContext, account_of, recheck
from tidings.web.errors import ApiError, error, not_found
from tidings.web.responses import json_response
from tidings.webhooks.guard import early_problem

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


async def _dlr_problem(ctx: ApiContext, req: OmnimessageRequest, prefix: str) -> ErrorItem | None:
    """A `dlr_url` that the SSRF guard would refuse is refused now, not silently at delivery."""
    if req.dlr_url is None:
        return None
    problem = await early_problem(req.dlr_url, ctx.settings.webhook_policy)
    if problem is None:
        return None
    return invalid(f"dlr_url is not an allowed webhook target: {problem}", f"{prefix}dlr_url")


async def _store(
    request: Request, account: Account, build: Callable[[Account], list[NewOmnimessage]]
) -> list[NewOmnimessage]:
    """Build and accept the records, checking in the same transaction that the account is as
    the (possibly remembered) credential found it; if it changed, authenticate again."""
    ctx = _ctx(request)
    for _ in range(_ACCEPT_TRIES):
        records = build(account)
        try:
            await ctx.engine.accept(records, expect=(account.id, account.version))
            return records
        except AccountChanged:
            account = await recheck(request)  # 401 if the credentials no longer hold
    records = build(account)  # changed again meanwhile: `recheck` itself just read the version
    await ctx.engine.accept(records)
    return records


async def send_omnimessage(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request, current=False)
    try:
        data = await read_json(request, ctx.settings.max_body_bytes)
        now, limits = ctx.engine.clock_now(), ctx.engine.settings.limits
        req = validate_omnimessage(data, now=now, limits=limits)
        if (problem := await _dlr_problem(ctx, req, "")) is not None:
            raise RequestInvalid([problem])
    except (ApiError, RequestInvalid):
        await recheck(request)  # no answer about the body to a caller whose account changed
        raise
    (record,) = await _store(request, account, lambda a: [ctx.engine.build(a, req)])
    return json_response(send_result(record), 201)


async def send_bulk(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request, current=False)
    try:
        data = await read_json(request, ctx.settings.max_bulk_body_bytes)
        items = validate_bulk(data, now=ctx.engine.clock_now(), limits=ctx.engine.settings.limits)
    except (ApiError, RequestInvalid):
        await recheck(request)
        raise
    checked: list[OmnimessageRequest | RequestInvalid] = []
    for i, item in enumerate(items):
        if not isinstance(item, RequestInvalid) and (
            problem := await _dlr_problem(ctx, item, f"messages[{i}].")
        ):
            item = RequestInvalid([problem])
        checked.append(item)
    valid = [item for item in checked if not isinstance(item, RequestInvalid)]
    if valid:
        records = iter(
            await _store(request, account, lambda a: [ctx.engine.build(a, item) for item in valid])
        )
    else:
        await recheck(request)  # nothing to store, so no transaction checks the account
        records = iter([])
    out: list[OmniMessageCreateSuccessResponse | ErrorOmnichannel] = [
        errors_body(item.errors) if isinstance(item, RequestInvalid) else send_result(next(records))
        for item in checked
    ]
    body: BulkOmniMessageCreateSuccessResponse = {"messages": out}
    return json_response(body, 201)


async def cancel_omnimessage(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    result = await ctx.engine.cancel(account, _omni_id(request))
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
    msgs = await ctx.engine.store.list_sandbox_messages(account.id, to, limit)
    return json_response({"messages": [sandbox_message(m) for m in msgs]})
