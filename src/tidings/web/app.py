"""The ASGI application: routes, error handlers, and the engine's lifecycle."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tidings.core.errors import UNAUTHORIZED, ErrorItem, RequestInvalid
from tidings.store.errors import STORAGE_ERRORS
from tidings.web import errors
from tidings.web.api import (
    routes_inbound,
    routes_messages,
    routes_phonebook,
    routes_providers,
    routes_schedule,
)
from tidings.web.api.docs_page import docs_html
from tidings.web.api.idempotency import idempotent
from tidings.web.api.openapi import openapi_document
from tidings.web.console import console_routes
from tidings.web.context import ApiContext
from tidings.web.errors import ApiError
from tidings.web.responses import json_response


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def metrics(request: Request) -> Response:
    """Open by default (scrapers usually sit next to the process); `TIDINGS_METRICS_TOKEN`
    closes it to all but `Authorization: Bearer <token>`."""
    ctx: ApiContext = request.app.state.ctx
    token = ctx.settings.metrics_token
    if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
        raise ApiError(
            401,
            [ErrorItem(*UNAUTHORIZED, "/metrics needs Authorization: Bearer <metrics token>")],
            {"WWW-Authenticate": 'Bearer realm="Tidings metrics"'},
        )
    return Response(generate_latest(ctx.engine.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def openapi(request: Request) -> Response:
    return json_response(openapi_document())


async def docs(request: Request) -> Response:
    return HTMLResponse(docs_html(openapi_document()))


def create_app(ctx: ApiContext, *, manage_engine: bool = True) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_engine:
            await ctx.engine.start()
        try:
            yield
        finally:
            if manage_engine:
                await ctx.engine.stop()

    m = routes_messages
    sc = routes_schedule
    pb = routes_phonebook
    routes = [
        # idempotent(...): the route honours an Idempotency-Key (web/api/idempotency.py).
        Route("/v1/omnimessage", idempotent(m.send_omnimessage), methods=["POST"]),
        Route("/v1/omnimessages", idempotent(m.send_bulk), methods=["POST"]),
        Route(
            "/v1/omnimessage/{omnimessage_id}",
            idempotent(m.cancel_omnimessage),
            methods=["DELETE"],
        ),
        Route("/v1/omnimessage/{omnimessage_id}/status", m.omnimessage_status, methods=["GET"]),
        # Tidings extensions (issue 12): list, inspect, reschedule, batches.
        Route("/v1/omnimessages", sc.list_omnimessages, methods=["GET"]),
        Route("/v1/omnimessage/{omnimessage_id}", sc.inspect_omnimessage, methods=["GET"]),
        Route(
            "/v1/omnimessage/{omnimessage_id}",
            idempotent(sc.reschedule_omnimessage),
            methods=["PATCH"],
        ),
        Route("/v1/batches/{tag}", sc.batch_counts, methods=["GET"]),
        Route("/v1/batches/{tag}/pause", idempotent(sc.pause_batch), methods=["POST"]),
        Route("/v1/batches/{tag}/resume", idempotent(sc.resume_batch), methods=["POST"]),
        Route("/v1/batches/{tag}/cancel", idempotent(sc.cancel_batch), methods=["POST"]),
        # Messente's Phonebook blacklist (issue 13), every error in the Phonebook format.
        # (web/errors.py answers any error under /v1/phonebook/ with the Phonebook's codes.)
        Route("/v1/phonebook/blacklist", pb.fetch_blacklist, methods=["GET"]),
        Route("/v1/phonebook/blacklist", idempotent(pb.add_to_blacklist), methods=["POST"]),
        Route("/v1/phonebook/blacklist/{phone}", pb.is_blacklisted, methods=["GET"]),
        Route(
            "/v1/phonebook/blacklist/{phone}",
            idempotent(pb.delete_from_blacklist),
            methods=["DELETE"],
        ),
        Route("/v1/sandbox/messages", m.sandbox_messages, methods=["GET"]),
        Route("/v1/sandbox/inbound", idempotent(routes_inbound.sandbox_inbound), methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        *routes_providers.routes,
        *console_routes(ctx),  # the web console: /, /login, /scheduled, ... and /static
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            errors.ApiError: errors.handle_api_error,
            RequestInvalid: errors.handle_invalid,
            HTTPException: errors.handle_http,
            **dict.fromkeys(STORAGE_ERRORS, errors.handle_storage),
            Exception: errors.handle_unexpected,
        },
    )
    app.router.redirect_slashes = (
        False  # `/v1/omnimessage/` is a 404 in the error format, not a 307
    )
    app.state.ctx = ctx
    return app
