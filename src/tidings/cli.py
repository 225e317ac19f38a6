"""The `tidings` command: serve, worker, migrate, accounts."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from tidings import runtime
from tidings.config import ConfigError, load_config
from tidings.core.validation_sender import sender_problem
from tidings.store.factory import open_store
from tidings.store.migrate import migrate as run_migrations
from tidings.store.urls import (
    DEFAULT_DATABASE_URL,
    DatabaseUrl,
    DatabaseUrlError,
    parse_database_url,
)
from tidings.web.auth import hash_password

T = TypeVar("T")

_database_option = click.option(
    "--database",
    envvar="TIDINGS_DATABASE_URL",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    help="sqlite:///FILE or postgresql://USER@HOST/DB (env TIDINGS_DATABASE_URL)",
)


def _db(url: str) -> DatabaseUrl:
    try:
        return parse_database_url(url)
    except DatabaseUrlError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None


def _settings(
    database: str, host: str = "127.0.0.1", port: int = 8080, config: str | None = None
) -> runtime.ServeSettings:
    try:
        settings = runtime.settings_from_env(_db(database), host, port)
    except runtime.SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    if config:
        try:
            settings = replace(settings, config=load_config(config))
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
    return settings


_config_option = click.option(
    "--config",
    "config",
    envvar="TIDINGS_CONFIG",
    default=None,
    type=click.Path(dir_okay=False),
    help="TOML file of connectors and routes (env TIDINGS_CONFIG); default: the sandbox for all",
)


def _serve_run(coro: Awaitable[None]) -> None:
    try:
        _run(coro)
    except ConfigError as exc:  # e.g. a per-account route for an account that does not exist
        raise click.UsageError(str(exc)) from None


def _run(coro: Awaitable[T]) -> T:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        return asyncio.run(coro)  # type: ignore[arg-type]


def _with_store(database: str, fn: Callable[[Any], Awaitable[T]]) -> T:
    async def go() -> T:
        store = await open_store(_db(database))
        try:
            return await fn(store)
        finally:
            await store.close()

    return _run(go())


@click.group()
@click.option("--log-level", default="INFO", envvar="TIDINGS_LOG_LEVEL", show_default=True)
def main(log_level: str) -> None:
    """Tidings: a self-hosted omnichannel messaging gateway (Messente Omnichannel API v1)."""
    runtime.configure_logging(log_level)


@main.command()
@click.option("--host", envvar="TIDINGS_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="TIDINGS_PORT", default=8080, type=int, show_default=True)
@_database_option
@_config_option
def serve(host: str, port: int, database: str, config: str | None) -> None:
    """Run the API, the scheduler and the sandbox in one process."""
    _serve_run(runtime.serve(_settings(database, host, port, config)))


@main.command()
@_database_option
@_config_option
def worker(database: str, config: str | None) -> None:
    """Run a dispatch-only process (shares the work with every other process on the database)."""
    _serve_run(runtime.work(_settings(database, config=config)))


@main.command()
@_database_option
def migrate(database: str) -> None:
    """Bring the database schema up to date."""
    run_migrations(_db(database))
    click.echo("schema is up to date")


@main.group()
def accounts() -> None:
    """Manage API accounts."""


def _check_sender(sender: str | None) -> None:
    if sender is not None and (problem := sender_problem(sender)):
        raise click.BadParameter(problem, param_hint="--sender")


@accounts.command("add")
@click.argument("username")
@click.option("--password", help="Omit to generate a random one (printed once).")
@click.option("--sender", default=runtime.DEFAULT_SENDER, show_default=True, help="Default sender")
@click.option("--dlr-url", default=None, help="Default delivery-report URL")
@_database_option
def accounts_add(
    username: str, password: str | None, sender: str, dlr_url: str | None, database: str
) -> None:
    """Create an account."""
    _check_sender(sender)
    if not username or ":" in username or len(username) > 100:
        raise click.BadParameter("1-100 characters, no ':'", param_hint="USERNAME")
    pw = password or secrets.token_urlsafe(18)

    async def go(store: Any) -> None:
        if await store.get_account(username) is not None:
            raise click.ClickException(f"account {username!r} already exists")
        acct = await runtime.create_account(store, username, pw, sender)
        if dlr_url:
            await store.update_account(username, dlr_url=dlr_url)
        click.echo(f"created account {acct.username}")
        if password is None:
            click.echo(f"password: {pw}")
        click.echo(f"signing secret: {acct.signing_secret}")

    _with_store(database, go)


@accounts.command("list")
@_database_option
def accounts_list(database: str) -> None:
    """List accounts."""

    async def go(store: Any) -> None:
        rows = await store.list_accounts()
        if not rows:
            click.echo("no accounts")
            return
        click.echo(f"{'USERNAME':<24} {'SENDER':<12} {'DLR URL':<40} SIGNING SECRET")
        for a in rows:
            click.echo(
                f"{a.username:<24} {a.default_sender:<12} {a.dlr_url or '-':<40} {a.signing_secret}"
            )

    _with_store(database, go)


@accounts.command("remove")
@click.argument("username")
@_database_option
def accounts_remove(username: str, database: str) -> None:
    """Delete an account (its messages stay stored; its sessions and credentials end at once)."""

    async def go(store: Any) -> None:
        if not await store.remove_account(username):
            raise click.ClickException(f"no account {username!r}")
        click.echo(f"removed account {username}")

    _with_store(database, go)


@accounts.command("set")
@click.argument("username")
@click.option("--password", default=None)
@click.option("--sender", default=None)
@click.option("--dlr-url", default=None, help="Default delivery-report URL ('' clears it)")
@_database_option
def accounts_set(
    username: str, password: str | None, sender: str | None, dlr_url: str | None, database: str
) -> None:
    """Change an account's password, default sender or default DLR URL (at once, in every
    running process)."""
    _check_sender(sender)

    async def go(store: Any) -> None:
        acct = await store.update_account(
            username,
            password_hash=hash_password(password) if password else None,
            default_sender=sender,
            dlr_url=dlr_url or None,
            clear_dlr_url=dlr_url == "",
        )
        if acct is None:
            raise click.ClickException(f"no account {username!r}")
        click.echo(f"updated account {username}")
        if password:  # see accounts_sql.update_account
            click.echo("the old password stopped working; console sessions were signed out")

    _with_store(database, go)


from tidings.cli_client import register_client_commands  # noqa: E402

register_client_commands(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
