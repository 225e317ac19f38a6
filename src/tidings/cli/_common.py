"""What the server-side commands share: the database and config options, running a coroutine,
opening the store for one command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

import click

from tidings import runtime
from tidings.config import ConfigError, load_config
from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.urls import (
    DEFAULT_DATABASE_URL,
    DatabaseUrl,
    DatabaseUrlError,
    parse_database_url,
)

T = TypeVar("T")

database_option = click.option(
    "--database",
    envvar="TIDINGS_DATABASE_URL",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    help="sqlite:///FILE or postgresql://USER@HOST/DB (env TIDINGS_DATABASE_URL)",
)


def db(url: str) -> DatabaseUrl:
    try:
        return parse_database_url(url)
    except DatabaseUrlError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None


def serve_settings(
    database: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    config: str | None = None,
    reuse_port: bool = False,
) -> runtime.ServeSettings:
    try:
        settings = runtime.settings_from_env(db(database), host, port)
    except runtime.SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    settings = replace(settings, reuse_port=reuse_port)
    if config:
        try:
            settings = replace(settings, config=load_config(config))
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
    return settings


config_option = click.option(
    "--config",
    "config",
    envvar="TIDINGS_CONFIG",
    default=None,
    type=click.Path(dir_okay=False),
    help="TOML file of connectors and routes (env TIDINGS_CONFIG); default: the sandbox for all",
)


def serve_run(coro: Awaitable[None]) -> None:
    try:
        run(coro)
    except ConfigError as exc:  # e.g. a per-account route for an account that does not exist
        raise click.UsageError(str(exc)) from None


def run(coro: Awaitable[T]) -> T:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        return asyncio.run(coro)  # type: ignore[arg-type]


def with_store(database: str, fn: Callable[[Store], Awaitable[T]]) -> T:
    async def go() -> T:
        store = await open_store(db(database))
        try:
            return await fn(store)
        finally:
            await store.close()

    return run(go())
