"""What every request handler needs: the engine, the authenticator and the API settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from tidings.api.auth import Authenticator
from tidings.api.errors import unauthorized
from tidings.engine.service import Engine
from tidings.store.records import Account
from tidings.webhooks.guard import TargetPolicy


@dataclass(frozen=True, slots=True)
class ApiSettings:
    max_body_bytes: int = 1024 * 1024
    max_bulk_body_bytes: int = 32 * 1024 * 1024
    webhook_policy: TargetPolicy = field(default_factory=TargetPolicy)
    # When set, `/metrics` wants `Authorization: Bearer <token>`; by default it is open.
    metrics_token: str | None = None


@dataclass(frozen=True, slots=True)
class ApiContext:
    engine: Engine
    auth: Authenticator
    settings: ApiSettings


async def account_of(request: Request) -> Account:
    ctx: ApiContext = request.app.state.ctx
    account = await ctx.auth.authenticate(request.headers.get("authorization"))
    if account is None:
        raise unauthorized()
    return account
