"""`tidings send | status | cancel | inbox`: the command-line client of a running server.

Exit codes: 0 success, 1 the server refused (an error answer: 4xx/5xx), 2 usage errors (click's
own), 3 the server cannot be reached.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from tidings.cli.csv_rows import CsvProblem
from tidings.cli.csv_send import default_refused_path, send_csv, summary_lines
from tidings.cli.format import (
    CHANNELS,
    build_omnimessage,
    chronological,
    format_api_error,
    format_inbox,
    format_send,
    format_status,
    inbox_header,
    inbox_row,
    inbox_text_width,
    resolve_at,
)
from tidings.client import DEFAULT_URL, ApiError, ConnectionProblem, TidingsClient

F = TypeVar("F", bound=Callable[..., Any])

EXIT_API_ERROR = 1
EXIT_CONNECTION = 3
FOLLOW_INTERVAL_S = 0.5


def _connection_options(fn: F) -> F:
    options = [
        click.option(
            "--url",
            envvar="TIDINGS_URL",
            default=DEFAULT_URL,
            show_default=True,
            help="The Tidings server (env TIDINGS_URL); a trailing /v1 is fine.",
        ),
        click.option(
            "--username",
            envvar="TIDINGS_USERNAME",
            required=True,
            help="API username (env TIDINGS_USERNAME).",
        ),
        click.option(
            "--password",
            envvar="TIDINGS_PASSWORD",
            required=True,
            help="API password (env TIDINGS_PASSWORD).",
        ),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the server's JSON answer instead of a table (errors too, on stdout).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _client(url: str, username: str, password: str) -> TidingsClient:
    try:
        return TidingsClient(url, username, password)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--url' / TIDINGS_URL") from None


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def _fail(exc: ApiError | ConnectionProblem, as_json: bool) -> NoReturn:
    if isinstance(exc, ConnectionProblem):
        click.echo(str(exc), err=True)
        raise SystemExit(EXIT_CONNECTION)
    if as_json:
        _print_json(exc.body_json)
    for line in format_api_error(exc.status, exc.errors, exc.body):
        click.echo(line, err=True)
    raise SystemExit(EXIT_API_ERROR)


def _echo_lines(lines: Sequence[str]) -> None:
    click.echo("\n".join(lines))


@click.command()
@click.option("--to", default=None, help="Recipient, E.164 (+ and digits), e.g. +37251234567.")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice(CHANNELS),
    help="A channel of the fallback chain; repeat for more, in order. Pairs with the --text at "
    "the same position. Default: sms.",
)
@click.option(
    "--text",
    "texts",
    multiple=True,
    help="The message text for the --channel at the same position (WhatsApp: sent as text.body).",
)
@click.option(
    "--at",
    default=None,
    help="When to send: ISO 8601, e.g. 2030-06-22T09:05 (no offset = UTC) or "
    "2030-06-22T09:05+03:00; or relative to now: +10s, +5m, +2h, +1d, +1h30m. Default: now.",
)
@click.option(
    "--sender",
    "senders",
    multiple=True,
    help="Sender for every channel, or for one: --sender rcs=MyAgent (rcs needs one). "
    "Default: the account's sender.",
)
@click.option(
    "--ttl",
    "ttls",
    multiple=True,
    help="Seconds a channel may take before falling back: --ttl 30 (all) or --ttl viber=30.",
)
@click.option(
    "--validity",
    "validities",
    multiple=True,
    help="Like --ttl, in minutes: --validity 60 or --validity sms=60.",
)
@click.option("--dlr-url", default=None, help="Where delivery reports are POSTed.")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send every row of a CSV file instead (columns to,text and optionally time_to_send, "
    "channels, sender, batch), through the bulk endpoint.",
)
@click.option(
    "--refused",
    "refused_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --csv: where the rows not accepted go (default: FILE.refused.csv).",
)
@click.option(
    "--priority",
    type=click.Choice(("low", "regular", "high")),
    default=None,
    help="Order among messages due at the same time (server default: regular).",
)
@click.option(
    "--text-store",
    type=click.Choice(("plaintext", "sha256", "nostore")),
    default=None,
    help="What the server keeps of the text once final (server default: plaintext).",
)
@_connection_options
def send(
    to: str,
    channels: tuple[str, ...],
    texts: tuple[str, ...],
    at: str | None,
    senders: tuple[str, ...],
    ttls: tuple[str, ...],
    validities: tuple[str, ...],
    dlr_url: str | None,
    priority: str | None,
    text_store: str | None,
    csv_file: Path | None,
    refused_file: Path | None,
    url: str,
    username: str,
    password: str,
    as_json: bool,
) -> None:
    """Send a message, now or later, along a fallback chain of channels; or a CSV file of them.

    \b
    tidings send --to +37251234567 --text "Hello"
    tidings send --to +37251234567 --channel whatsapp --text Hi --channel sms --text Hi
    tidings send --to +37251234567 --text "Later" --at +5m
    tidings send --csv contacts.csv

    With --csv the exit code is 0 when every row was accepted, 1 when any was not (they are in
    the refused file, each with its error), 3 when the server could not be reached.
    """
    if csv_file is not None:
        single = {"--to": to, "--text": texts, "--channel": channels, "--at": at}
        single |= {"--sender": senders, "--ttl": ttls, "--validity": validities}
        single |= {"--dlr-url": dlr_url, "--priority": priority, "--text-store": text_store}
        given = [name for name, value in single.items() if value]
        if given:
            raise click.UsageError(f"--csv takes every field from the file, not {given[0]}")
        _send_csv(csv_file, refused_file, url, username, password, as_json)
        return
    if refused_file is not None:
        raise click.UsageError("--refused goes with --csv")
    if to is None:
        raise click.UsageError("Missing option '--to' (or give a file with --csv)")
    try:
        when = None if at is None else resolve_at(at, datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--at'") from None
    try:
        body = build_omnimessage(
            to,
            channels,
            texts,
            senders=senders,
            ttls=ttls,
            validities=validities,
            at=when,
            dlr_url=dlr_url,
            priority=priority,
            text_store=text_store,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with _client(url, username, password) as client:
        try:
            result = client.send(body)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json(result)
    else:
        _echo_lines(format_send(result, when))


def _send_csv(
    path: Path, refused: Path | None, url: str, username: str, password: str, as_json: bool
) -> NoReturn:
    refused = refused or default_refused_path(path)
    with _client(url, username, password) as client:
        try:
            run = send_csv(client, path, refused, quiet=as_json)
        except CsvProblem as exc:
            raise click.BadParameter(str(exc), param_hint="'--csv'") from None
        except UnicodeDecodeError:
            raise click.BadParameter("the file is not UTF-8 text", param_hint="'--csv'") from None
    if as_json:
        _print_json(run.summary() | {"refused_file": str(refused) if run.refused else None})
    else:
        _echo_lines(summary_lines(run, refused))
    raise SystemExit(EXIT_CONNECTION if run.unreachable else EXIT_API_ERROR if run.refused else 0)


@click.command()
@click.argument("omnimessage_id")
@_connection_options
def status(omnimessage_id: str, url: str, username: str, password: str, as_json: bool) -> None:
    """Show the status of each channel of an omnimessage."""
    with _client(url, username, password) as client:
        try:
            result = client.status(omnimessage_id)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json(result)
    else:
        _echo_lines(format_status(result))


@click.command()
@click.argument("omnimessage_id")
@_connection_options
def cancel(omnimessage_id: str, url: str, username: str, password: str, as_json: bool) -> None:
    """Cancel a scheduled omnimessage (again is fine; once sending started it is too late)."""
    with _client(url, username, password) as client:
        try:
            result = client.cancel(omnimessage_id)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json(result)
    else:
        click.echo(f"cancelled {omnimessage_id}")


@click.command()
@click.option("--to", default=None, help="Only messages to this number.")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many of the newest messages to show.",
)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep polling and print new messages as they arrive, until Ctrl-C.",
)
@_connection_options
def inbox(
    to: str | None,
    limit: int,
    follow: bool,
    url: str,
    username: str,
    password: str,
    as_json: bool,
) -> None:
    """Show the sandbox inbox (messages the sandbox channel delivered), oldest first.

    With --json: the server's answer (newest first); with --follow --json one message per line.
    """
    text_width = inbox_text_width(shutil.get_terminal_size((120, 24)).columns)
    with _client(url, username, password) as client:
        try:
            result = client.inbox(to, limit)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
        messages = [m for m in result.get("messages", []) if isinstance(m, Mapping)]
        if not follow:
            if as_json:
                _print_json(result)
            else:
                _echo_lines(format_inbox(messages, text_width))
            return
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how --follow ends: exit 0
            _follow(client, to, messages, as_json, text_width)


def _follow(
    client: TidingsClient,
    to: str | None,
    first: list[Mapping[str, Any]],
    as_json: bool,
    text_width: int,
) -> None:
    seen: set[str] = set()

    def emit(batch: Sequence[Mapping[str, Any]]) -> None:
        for m in chronological(batch):
            seen.add(str(m.get("message_id")))
            click.echo(json.dumps(m, ensure_ascii=False) if as_json else inbox_row(m, text_width))

    if not as_json:
        click.echo(inbox_header(text_width))
    emit(first)
    unreachable = False
    while True:
        time.sleep(FOLLOW_INTERVAL_S)
        try:
            result = client.inbox(to, 100)
            fresh = _fresh(result, seen)
            if len(fresh) >= 100:  # a burst larger than one poll: look further back
                fresh = _fresh(client.inbox(to, 1000), seen)
        except ConnectionProblem as exc:
            if not unreachable:
                click.echo(f"{exc}; still trying (Ctrl-C to stop)", err=True)
                unreachable = True
            continue
        except ApiError as exc:
            _fail(exc, False)
        if unreachable:
            click.echo(f"reconnected to {client.url}", err=True)
            unreachable = False
        emit(fresh)


def _fresh(result: Mapping[str, Any], seen: set[str]) -> list[Mapping[str, Any]]:
    return [
        m
        for m in result.get("messages", [])
        if isinstance(m, Mapping) and str(m.get("message_id")) not in seen
    ]


CLIENT_COMMANDS = (send, status, cancel, inbox)
