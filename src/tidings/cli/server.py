"""`tidings serve | worker | migrate`: run the gateway and keep its schema current."""

from __future__ import annotations

import click

from tidings import runtime
from tidings.cli._common import config_option, database_option, db, serve_run, serve_settings
from tidings.store.migrate import migrate as run_migrations


@click.command()
@click.option("--host", envvar="TIDINGS_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="TIDINGS_PORT", default=8080, type=int, show_default=True)
@click.option(
    "--reuse-port",
    envvar="TIDINGS_REUSE_PORT",
    is_flag=True,
    help="Share the port with other `serve --reuse-port` processes (SO_REUSEPORT, Linux): run"
    " several on one PostgreSQL database to use more cores (README: Scaling out).",
)
@database_option
@config_option
def serve(host: str, port: int, reuse_port: bool, database: str, config: str | None) -> None:
    """Run the API, the scheduler and the sandbox in one process."""
    serve_run(runtime.serve(serve_settings(database, host, port, config, reuse_port)))


@click.command()
@database_option
@config_option
def worker(database: str, config: str | None) -> None:
    """Run a dispatch-only process (shares the work with every other process on the database)."""
    serve_run(runtime.work(serve_settings(database, config=config)))


@click.command()
@database_option
def migrate(database: str) -> None:
    """Bring the database schema up to date."""
    run_migrations(db(database))
    click.echo("schema is up to date")
