"""`tidings blacklist add | remove | list | check`: the account's Phonebook blacklist from the
command line, over HTTP through `tidings.client` like the other client commands (exit codes as
there; `check` exits 4 when the number is not listed)."""

from __future__ import annotations

import click

from tidings.cli.client_commands import (
    _client,
    _connection_options,
    _echo_lines,
    _fail,
    _print_json,
)
from tidings.client import ApiError, ConnectionProblem

EXIT_NOT_LISTED = 4  # not 1 (an API error), 2 (usage) or 3 (unreachable)


@click.group()
def blacklist() -> None:
    """Numbers the account never sends to (Messente's Phonebook blacklist)."""


@blacklist.command("add")
@click.argument("phone")
@_connection_options
def blacklist_add(phone: str, url: str, username: str, password: str, as_json: bool) -> None:
    """List a number: every message to it ends REJECTD (err 8) when it is due."""
    with _client(url, username, password) as client:
        try:
            client.blacklist_add(phone)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json({})
    else:
        click.echo(f"blacklisted {phone}")


@blacklist.command("remove")
@click.argument("phone")
@_connection_options
def blacklist_remove(phone: str, url: str, username: str, password: str, as_json: bool) -> None:
    """Unlist a number."""
    with _client(url, username, password) as client:
        try:
            client.blacklist_remove(phone)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json({})
    else:
        click.echo(f"removed {phone} from the blacklist")


@blacklist.command("list")
@_connection_options
def blacklist_list(url: str, username: str, password: str, as_json: bool) -> None:
    """Every listed number, oldest first."""
    with _client(url, username, password) as client:
        try:
            result = client.blacklist()
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json(result)
        return
    numbers = [str(n) for n in result.get("phoneNumbers", [])]
    _echo_lines(numbers or ["no numbers blacklisted"])


@blacklist.command("check")
@click.argument("phone")
@_connection_options
def blacklist_check(phone: str, url: str, username: str, password: str, as_json: bool) -> None:
    """Whether a number is listed (exit 0) or not (exit 4)."""
    with _client(url, username, password) as client:
        try:
            listed = client.blacklist_check(phone)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json({"phoneNumber": phone, "blacklisted": listed})
    else:
        click.echo(f"{phone} is {'' if listed else 'not '}blacklisted")
    if not listed:
        raise SystemExit(EXIT_NOT_LISTED)
