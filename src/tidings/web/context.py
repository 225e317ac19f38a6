"""What every request handler needs: the engine, the authenticator, the rate limits and the API
settings; and `account_of`, the authenticated, rate-limited caller of a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from tidings.engine.service import Engine
from tidings.store.base import Store
from tidings.store.records import Account
from tidings.web.auth import Authenticator, TooManyAttempts
from tidings.web.errors import too_many, unauthorized
from tidings.web.ratelimit import RateLimiter, RateSettings


@dataclass(frozen=True, slots=True)
class ApiSettings:
    max_body_bytes: int = 1024 * 1024
    max_bulk_body_bytes: int = 32 * 1024 * 1024
    # When set, `/metrics` wants `Authorization: Bearer <token>`; by default it is open.
    metrics_token: str | None = None
    # How long a repeat of an Idempotency-Key whose first request is still in flight waits for
    # its answer before a 409 (web/api/idempotency.py).
    idempotency_wait_s: float = 10.0


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the handlers share. Writes go through the engine (its front door, cancel, callbacks);
    pages and lists read the store's ports directly, not through the engine."""

    engine: Engine
    store: Store
    auth: Authenticator
    settings: ApiSettings
    limits: RateLimiter = field(default_factory=lambda: RateLimiter(RateSettings()))


def client_address(request: Request) -> str:
    """The client's address: uvicorn takes it from `X-Forwarded-For` when the connection comes
    from a trusted proxy (`FORWARDED_ALLOW_IPS`, default 127.0.0.1)."""
    return request.client.host if request.client else "?"


async def account_of(request: Request, *, current: bool = True) -> Account:
    """The authenticated caller, once its account's rate limit allows the request; else 401 or
    429. `current=False`: see `Authenticator.authenticate` (the caller then checks the version).
    Asked again within one request (the Idempotency-Key check asks first), the answer is the
    first one, without a second rate-limit token (rechecked when it was not current)."""
    known: tuple[Account, bool] | None = getattr(request.state, "account", None)
    if known is not None:
        if known[1] or not current:
            return known[0]
        return await recheck(request)
    ctx: ApiContext = request.app.state.ctx
    try:
        account = await ctx.auth.authenticate(
            request.headers.get("authorization"), client_address(request), current=current
        )
    except TooManyAttempts as exc:
        raise too_many(exc.retry_after_s, "Too many failed sign-ins from this client") from None
    if account is None:
        raise unauthorized()
    wait = await ctx.limits.check(account.id, account.username)
    if wait:
        ctx.auth.metrics.refused.labels("rate").inc()
        raise too_many(wait, "Too many requests for this account")
    request.state.account = (account, current)
    return account


async def recheck(request: Request) -> Account:
    """The caller again, after its account changed under a request (no second rate-limit token)."""
    ctx: ApiContext = request.app.state.ctx
    try:
        account = await ctx.auth.authenticate(
            request.headers.get("authorization"), client_address(request)
        )
    except TooManyAttempts as exc:
        raise too_many(exc.retry_after_s, "Too many failed sign-ins from this client") from None
    if account is None:
        raise unauthorized()
    request.state.account = (account, True)
    return account
