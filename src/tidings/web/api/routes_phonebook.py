"""Messente's Phonebook blacklist: `GET/POST /v1/phonebook/blacklist`,
`GET/DELETE /v1/phonebook/blacklist/{phone}`, one list per account.

Answers as Messente's: list 200 `{"phoneNumbers": [...]}`; add 204 (409 when already listed);
check 204 when listed, 404 when not; delete 204 (404 when not listed). Every error has the
Phonebook body (`ErrorPhonebook`, codes "201".."205"/"244"), including the 401, 405 and the
Idempotency-Key refusals (web/errors.py answers every error under /v1/phonebook/ so), and the
official `BlacklistApi` reads them as its own errors; each item
also carries `source` (a Tidings extension the clients keep as an extra property): the field or
parameter on a 400 (and `Idempotency-Key` on its refusals), null otherwise, as on the Omnichannel
endpoints.

Numbers are normalised to E.164 exactly as recipients on send (core/phone.py), so `37251234567`
and `+37251234567` are one entry, and the fire-time rule (core/lifecycle.py) compares like with
like. The `{phone}` path parameter arrives URL-decoded (the clients send `+` as `%2B`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tidings.core.contract.phonebook import FetchBlacklistSuccess
from tidings.core.errors import INVALID
from tidings.core.phone import normalise_msisdn
from tidings.core.validation import validate_number_to_blacklist
from tidings.web.api.body import read_json
from tidings.web.context import ApiContext, account_of
from tidings.web.errors import error
from tidings.web.responses import json_response

MAX_BODY_BYTES = 4096


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _phone(request: Request) -> str:
    raw = str(request.path_params["phone"])
    try:
        return normalise_msisdn(raw)
    except ValueError as exc:
        raise error(400, INVALID, str(exc), "phone") from None


def _no_content() -> Response:
    return Response(status_code=204)


async def fetch_blacklist(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    entries = await ctx.store.blacklist.entries(account.id)
    body: FetchBlacklistSuccess = {"phoneNumbers": [e.phone for e in entries]}
    return json_response(body, 200)


async def add_to_blacklist(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    data = await read_json(request, MAX_BODY_BYTES)
    phone = validate_number_to_blacklist(data)
    if not await ctx.engine.blacklist_add(account, phone):
        raise error(409, INVALID, f"{phone} is already in the blacklist")
    return _no_content()


async def is_blacklisted(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    phone = _phone(request)
    if not await ctx.store.blacklist.has(account.id, phone):
        raise error(404, INVALID, f"{phone} is not in the blacklist")
    return _no_content()


async def delete_from_blacklist(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    phone = _phone(request)
    if not await ctx.engine.blacklist_remove(account, phone):
        raise error(404, INVALID, f"{phone} is not in the blacklist")
    return _no_content()
