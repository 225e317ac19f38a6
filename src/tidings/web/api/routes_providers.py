"""Inbound provider callbacks: `/providers/{connector}/webhook`, and Telegram deep-link tokens.

Each callback is authenticated by the connector (signature or secret token: 401 without
credentials, 403 with wrong ones, and nothing is read further), parsed into provider events and
handed to the engine's one entry for them (`tidings.engine.callbacks`), which matches and
de-duplicates them, so a replayed callback changes nothing.

An event whose provider ref is not known yet (a callback that overtook our own record of the
send) is not recorded; if it is recent, the answer is 503 so the provider retries it later.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from tidings.channels.http_base import (
    HttpConnector,
    InboundRequest,
    WebhookReply,
)
from tidings.channels.telegram import TelegramConnector
from tidings.core.errors import INVALID, MISSING
from tidings.core.phone import normalise_msisdn
from tidings.web.api.body import read_json
from tidings.web.context import ApiContext, account_of
from tidings.web.errors import error, not_found
from tidings.web.responses import json_response

log = logging.getLogger("tidings.web.api")

MAX_CALLBACK_BYTES = 1024 * 1024
MAX_LINK_BODY_BYTES = 64 * 1024


def _reply(r: WebhookReply) -> Response:
    return Response(r.body, r.status, media_type=r.content_type)


def _connector(request: Request) -> HttpConnector[Any] | None:
    ctx: ApiContext = request.app.state.ctx
    conn = ctx.engine.router.named(request.path_params["connector"])
    if isinstance(conn, HttpConnector) and conn.webhooks:
        return conn
    return None


async def provider_webhook(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    conn = _connector(request)
    if conn is None:
        return Response(b"no such provider connector", 404, media_type="text/plain")
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        return Response(b"too large", 413, media_type="text/plain")
    inbound = InboundRequest(
        request.method,
        {k.lower(): v for k, v in request.headers.items()},
        dict(request.query_params),
        body,
    )
    if request.method == "GET":
        return _reply(conn.handshake(inbound))
    if (hs := conn.post_handshake(inbound)) is not None:
        return _reply(hs)
    auth = conn.authenticate(inbound)
    if auth is not True:
        log.warning(
            "action=provider_callback_refused connector=%s reason=%s",
            conn.name,
            "unsigned" if auth is None else "bad_signature",
        )
        if auth is None:
            return Response(b"missing signature", 401, media_type="text/plain")
        return Response(b"bad signature", 403, media_type="text/plain")
    try:
        events = await conn.events(inbound)
    except ValueError as exc:
        return Response(str(exc).encode(), 400, media_type="text/plain")
    outcome = await ctx.engine.callbacks.receive(conn.name, events)
    if outcome.retry_later:
        return Response(b"unknown message, retry later", 503, media_type="text/plain")
    return Response(b"ok", 200, media_type="text/plain")


async def telegram_link(request: Request) -> Response:
    """Issue a one-time deep-link token binding a phone number to the chat that opens it."""
    ctx: ApiContext = request.app.state.ctx
    account = await account_of(request)
    conn = ctx.engine.router.named(request.path_params["connector"])
    if not isinstance(conn, TelegramConnector):
        raise not_found("No such Telegram connector")
    body = await read_json(request, MAX_LINK_BODY_BYTES)
    phone = body.get("phone") if isinstance(body, dict) else None
    if not isinstance(phone, str):
        raise error(400, MISSING, "phone is required", "phone")
    try:
        e164 = normalise_msisdn(phone)
    except ValueError as exc:
        raise error(400, INVALID, str(exc), "phone") from None
    token = secrets.token_urlsafe(24)
    now = ctx.engine.clock.now_us()
    expires = now + conn.settings.link_ttl_s * 1_000_000
    await ctx.store.providers.create_telegram_link(conn.name, token, e164, account.id, now, expires)
    return json_response(
        {"token": token, "url": conn.link_url(token), "phone": e164, "expires_us": expires}, 201
    )


# One mount: provider callbacks are not part of the Messente API (nor of its OpenAPI document).
routes = [
    Mount(
        "/providers",
        routes=[
            Route("/{connector}/webhook", provider_webhook, methods=["GET", "POST"]),
            Route("/{connector}/telegram/links", telegram_link, methods=["POST"]),
        ],
    )
]
