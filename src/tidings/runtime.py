"""Composition root: build the store, connectors, engine and web app from settings.

It sits beside `cli.py`, above every layer, and is the only place that knows all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

import uvicorn

from tidings.channels.sandbox import SandboxTiming
from tidings.config import GatewayConfig, build_router
from tidings.core.passwords import hash_password
from tidings.engine.dispatcher import DispatchSettings
from tidings.engine.outbox import OutboxSettings, WebhookOutbox
from tidings.engine.service import Engine, EngineSettings
from tidings.http_server import http_protocol
from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.records import Account
from tidings.store.urls import DatabaseUrl
from tidings.web.app import create_app
from tidings.web.auth import Authenticator, AuthSettings
from tidings.web.context import ApiContext, ApiSettings
from tidings.web.guard import Backoff, GuardSettings
from tidings.web.ratelimit import Rate, RateLimiter, RateSettings
from tidings.webhooks.guard import TargetPolicy

log = logging.getLogger("tidings")

DEFAULT_SENDER = "Tidings"


@dataclass(frozen=True)
class ServeSettings:
    database: DatabaseUrl
    host: str = "127.0.0.1"
    port: int = 8080
    engine: EngineSettings = field(default_factory=EngineSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    sandbox: SandboxTiming = field(default_factory=SandboxTiming)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    rates: RateSettings = field(default_factory=RateSettings)
    config: GatewayConfig | None = None  # connectors and routing (None: the sandbox for all)
    header_timeout_s: float = 10.0  # a request's headers must arrive within this (slowloris)
    reuse_port: bool = False  # several `serve` processes share the port (SO_REUSEPORT)


class SettingsError(ValueError):
    """A tuning variable in the environment that cannot be used."""


def _env_float(
    name: str, default: float, *, minimum: float = 0.0, unit: str = "a number of seconds"
) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {unit}, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def auth_settings_from_env() -> tuple[AuthSettings, RateSettings]:
    """Sign-in limits and per-account request rates (README, configuration table)."""
    free = _env_int("TIDINGS_AUTH_FREE_FAILURES", 5, minimum=1)
    longest = _env_float("TIDINGS_AUTH_BACKOFF_MAX_SECONDS", 300.0, minimum=1.0)
    guard = GuardSettings(
        client=Backoff(free, 1.0, longest),
        address=Backoff(10 * free, 1.0, longest),
        username=Backoff(4 * free, 1.0, longest),
    )
    defaults = AuthSettings()
    auth = AuthSettings(
        verify_concurrency=_env_int("TIDINGS_AUTH_THREADS", defaults.verify_concurrency, minimum=1),
        guard=guard,
    )
    per_s = _env_float("TIDINGS_RATE_PER_SECOND", 1000.0, unit="a number of requests")
    burst = _env_float(
        "TIDINGS_RATE_BURST", 2 * per_s, minimum=1.0 if per_s else 0.0, unit="a number of requests"
    )
    return auth, RateSettings(default=Rate(per_s, burst))


def settings_from_env(
    database: DatabaseUrl, host: str = "127.0.0.1", port: int = 8080
) -> ServeSettings:
    """Tuning knobs from the environment (documented in the README's configuration table)."""
    lease = _env_float("TIDINGS_LEASE_SECONDS", 30.0, minimum=0.5)
    dispatch = DispatchSettings(
        lease_s=lease,
        upkeep_s=min(5.0, lease / 3),
        safety_poll_s=_env_float("TIDINGS_SAFETY_POLL_SECONDS", 2.0, minimum=0.05),
        lookahead_s=_env_float("TIDINGS_LOOKAHEAD_SECONDS", 0.3),
        fire_lead_s=_env_float("TIDINGS_FIRE_LEAD_SECONDS", DispatchSettings().fire_lead_s),
    )
    allow = [a.strip() for a in os.environ.get("TIDINGS_WEBHOOK_ALLOW", "").split(",") if a.strip()]
    try:
        policy = TargetPolicy.allowing(*allow)
    except ValueError as exc:
        raise SettingsError(f"TIDINGS_WEBHOOK_ALLOW: {exc}") from None
    schedule_raw = os.environ.get("TIDINGS_WEBHOOK_RETRY_SCHEDULE", "")
    outbox = OutboxSettings()
    if schedule_raw.strip():
        try:
            schedule = tuple(float(x) for x in schedule_raw.split(","))
        except ValueError:
            raise SettingsError(
                "TIDINGS_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, e.g. 0,5,300"
            ) from None
        outbox = OutboxSettings(schedule_s=schedule)
    outbox = replace(
        outbox, timeout_s=_env_float("TIDINGS_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1)
    )
    auth, rates = auth_settings_from_env()
    return ServeSettings(
        database=database,
        auth=auth,
        rates=rates,
        api=ApiSettings(
            metrics_token=os.environ.get("TIDINGS_METRICS_TOKEN", "").strip() or None,
            idempotency_wait_s=_env_float(
                "TIDINGS_IDEMPOTENCY_WAIT_SECONDS", ApiSettings().idempotency_wait_s
            ),
        ),
        outbox=outbox,
        host=host,
        port=port,
        header_timeout_s=_env_float("TIDINGS_HEADER_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        engine=EngineSettings(dispatch=dispatch, webhook_policy=policy),
        sandbox=SandboxTiming(
            delivery_delay_s=_env_float("TIDINGS_SANDBOX_DELAY_SECONDS", 0.05),
            slow_delay_s=_env_float("TIDINGS_SANDBOX_SLOW_SECONDS", 3.0),
            retry_after_s=_env_float("TIDINGS_SANDBOX_RETRY_SECONDS", 1.0),
        ),
    )


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # Per-request lines from the HTTP client would carry webhook URLs and drown the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def account_ids(store: Store, config: GatewayConfig | None) -> dict[str, int]:
    """Usernames -> account ids, for per-account routes (resolved once, at start)."""
    if config is None or not config.account_routes:
        return {}
    return {a.username: a.id for a in await store.accounts.all()}


def build_engine(
    store: Store, settings: ServeSettings, accounts: Mapping[str, int] | None = None
) -> Engine:
    engine_box: list[Engine] = []
    router = build_router(
        settings.config,
        store,
        lambda: engine_box[0].clock.now_us(),
        settings.sandbox,
        accounts,
    )
    engine_settings = settings.engine
    if settings.config is not None:
        engine_settings = replace(
            engine_settings, inbound_accounts=settings.config.inbound_accounts
        )
    engine = Engine(
        store,
        router,
        engine_settings,
        outbox=lambda st, clock: WebhookOutbox(
            st, clock, settings.engine.webhook_policy, settings.outbox
        ),
    )
    engine_box.append(engine)
    return engine


async def create_account(
    store: Store, username: str, password: str, sender: str = DEFAULT_SENDER
) -> Account:
    return await store.accounts.create(
        username, hash_password(password), sender, secrets.token_hex(32)
    )


async def ensure_first_account(store: Store, base_url: str) -> None:
    """On an empty database, create an account and print how to use it."""
    if await store.accounts.all():
        return
    username, password = "tidings", secrets.token_urlsafe(18)
    created = await store.accounts.create_first(
        username, hash_password(password), DEFAULT_SENDER, secrets.token_hex(32)
    )
    if created is None:  # another process starting on the same new database was first
        return
    print(
        "\nCreated the first account (this is shown only once):\n"
        f"  username: {username}\n  password: {password}\n\n"
        "Send a message to the sandbox:\n"
        f"  curl -u '{username}:{password}' -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"to":"+37251234567","messages":[{{"channel":"sms","text":"Hello from Tidings"}}]}}\' \\\n'
        f"    {base_url}/v1/omnimessage\n",
        flush=True,
    )


class _Server(uvicorn.Server):
    """uvicorn, minus its habit of re-raising the stop signal: a clean stop exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _stop(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT: every `serve --reuse-port` process on the same host
    and port binds its own, and the kernel spreads new connections over them (Linux; on
    PostgreSQL, where the processes share all state)."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock


def tune_interpreter() -> None:
    """Move everything built while starting (imported modules, migrations, metadata) out of the
    garbage collector's view, and let threads take the GIL sooner. Otherwise each full collection walks them all: measured ~110 ms
    pauses of the event loop every few seconds under load, straight into firing lateness."""
    gc.collect()
    gc.freeze()
    # The SQLite threads need the GIL between statements; a busy event loop keeps it for up to
    # the switch interval (5 ms by default) each time. 1 ms measured lower lateness p99 and
    # accept latency under the 500/s benchmark (p99 9.8 -> 7.7 ms).
    sys.setswitchinterval(0.001)


async def serve(settings: ServeSettings) -> None:
    store = await open_store(settings.database)
    try:
        await ensure_first_account(store, f"http://{settings.host}:{settings.port}")
        engine = build_engine(store, settings, await account_ids(store, settings.config))
        rates = settings.rates
        if settings.config is not None and settings.config.account_rates:
            rates = replace(rates, accounts={**rates.accounts, **settings.config.account_rates})
        auth = Authenticator(store, settings.auth, engine.metrics.registry)
        ctx = ApiContext(
            engine,
            store,
            auth,
            settings.api,
            # SQLite: one process owns the file, the buckets live here; PostgreSQL: shared.
            RateLimiter(rates, store if store.kind == "postgresql" else None),
        )
        app = create_app(ctx)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=30,
            http=http_protocol(settings.header_timeout_s),
        )
        log.info(
            "action=serve_start url=http://%s:%d database=%s",
            settings.host,
            settings.port,
            settings.database.kind,
        )
        tune_interpreter()
        sockets = [listening_socket(settings.host, settings.port)] if settings.reuse_port else None
        try:
            await _Server(config).serve(sockets=sockets)
        finally:
            auth.close()
    finally:
        await store.close()
    log.info("action=serve_stopped")


async def work(settings: ServeSettings) -> None:
    """Dispatch only: no HTTP. Runs until SIGINT/SIGTERM, then stops cleanly."""
    store = await open_store(settings.database)
    try:
        engine = build_engine(store, settings, await account_ids(store, settings.config))
    except BaseException:
        await store.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
        tune_interpreter()
        log.info("action=worker_start owner=%s", engine.dispatcher.owner)
        await stop.wait()
    finally:
        await engine.stop()
        await store.close()
    log.info("action=worker_stopped")
