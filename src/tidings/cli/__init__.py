"""The `tidings` command: the server (serve, worker, migrate), accounts, and a client of a running
server (send, status, cancel, inbox; list, reschedule, batch; blacklist)."""

from __future__ import annotations

import click

from tidings import runtime
from tidings.cli.accounts import accounts
from tidings.cli.blacklist_commands import blacklist
from tidings.cli.client_commands import CLIENT_COMMANDS
from tidings.cli.schedule_commands import SCHEDULE_COMMANDS
from tidings.cli.server import migrate, serve, worker

__all__ = ["main"]


@click.group()
@click.option("--log-level", default="INFO", envvar="TIDINGS_LOG_LEVEL", show_default=True)
def main(log_level: str) -> None:
    """Tidings: a self-hosted omnichannel messaging gateway (Messente Omnichannel API v1)."""
    runtime.configure_logging(log_level)


for _command in (
    serve,
    worker,
    migrate,
    accounts,
    *CLIENT_COMMANDS,
    *SCHEDULE_COMMANDS,
    blacklist,
):
    main.add_command(_command)
