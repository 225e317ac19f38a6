"""`tidings list | reschedule | batch`: the scheduling extensions from the command line, over
HTTP through `tidings.client` like the other client commands (exit codes as there)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click

from tidings.cli.client_commands import (
    _client,
    _connection_options,
    _echo_lines,
    _fail,
    _print_json,
)
from tidings.cli.format import resolve_at, show_time, table
from tidings.client import ApiError, ConnectionProblem

# Why `send_at` is not the requested time (the items' `moved_by`).
MOVED_BY = {"quiet_hours": "quiet hours"}
LIST_STATES = ("scheduled", "paused", "sent", "delivered", "failed", "expired", "cancelled")


def format_list(result: Mapping[str, Any]) -> list[str]:
    rows = [
        (
            str(i.get("omnimessage_id")),
            str(i.get("to")),
            str(i.get("state")),
            show_time(i.get("send_at")),
            MOVED_BY.get(str(i.get("moved_by")), "-"),
            ",".join(str(c.get("channel")) for c in i.get("channels", [])),
            i.get("batch") or "-",
        )
        for i in result.get("items", [])
        if isinstance(i, Mapping)
    ]
    header = ("OMNIMESSAGE", "TO", "STATE", "SEND AT (UTC)", "MOVED BY", "CHANNELS", "BATCH")
    lines = table(header, rows)
    if result.get("next_cursor"):
        lines.append(f"more: --cursor {result['next_cursor']}")
    return lines


def format_counts(result: Mapping[str, Any]) -> list[str]:
    counts = result.get("counts", {})
    rows = [(state, str(n)) for state, n in counts.items() if n] if isinstance(counts, dict) else []
    return [
        f"batch {result.get('batch')}: {result.get('total')} messages",
        *table(("STATE", "COUNT"), rows),
    ]


def _at(value: str) -> str:
    try:
        return resolve_at(value, datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--at'") from None


@click.command("list")
@click.option("--state", type=click.Choice(LIST_STATES), default=None, help="Only this state.")
@click.option("--to", default=None, help="Only messages to this number.")
@click.option("--batch", default=None, help="Only this batch tag.")
@click.option("--due-from", default=None, help="Only due at or after this time (ISO 8601).")
@click.option("--due-until", default=None, help="Only due before this time (ISO 8601).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--cursor", default=None, help="The next page (printed after a full page).")
@_connection_options
def list_messages(
    state: str | None,
    to: str | None,
    batch: str | None,
    due_from: str | None,
    due_until: str | None,
    limit: int,
    cursor: str | None,
    url: str,
    username: str,
    password: str,
    as_json: bool,
) -> None:
    """List omnimessages: scheduled and paused soonest first, the rest newest first."""
    params = {"limit": str(limit)}
    given = {
        "state": state,
        "to": to,
        "batch": batch,
        "due_from": due_from,
        "due_until": due_until,
        "cursor": cursor,
    }
    params.update({k: v for k, v in given.items() if v is not None})
    with _client(url, username, password) as client:
        try:
            result = client.list_messages(params)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json(result)
    else:
        _echo_lines(format_list(result))


@click.command()
@click.argument("omnimessage_id")
@click.option(
    "--at",
    required=True,
    help="The new send time: ISO 8601 (no offset means UTC) or relative, e.g. +10m, +1h30m.",
)
@_connection_options
def reschedule(
    omnimessage_id: str, at: str, url: str, username: str, password: str, as_json: bool
) -> None:
    """Move a waiting (scheduled or paused) omnimessage to a new time."""
    when = _at(at)
    with _client(url, username, password) as client:
        try:
            result = client.reschedule(omnimessage_id, when)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json(result)
    else:
        held = ""
        if result.get("moved_by") == "quiet_hours":
            held = f", held by quiet hours from {show_time(result.get('time_to_send'))} UTC"
        click.echo(
            f"rescheduled {omnimessage_id} to {show_time(result.get('send_at'))} UTC"
            f" ({result.get('state')}{held})"
        )


@click.command()
@click.argument("action", type=click.Choice(("pause", "resume", "cancel", "show")))
@click.argument("tag")
@click.option(
    "--skip-missed",
    is_flag=True,
    help="resume: cancel the messages whose time passed while paused, instead of sending them.",
)
@_connection_options
def batch(
    action: str,
    tag: str,
    skip_missed: bool,
    url: str,
    username: str,
    password: str,
    as_json: bool,
) -> None:
    """Pause, resume or cancel every waiting message of a batch at once, or show its counts."""
    if skip_missed and action != "resume":
        raise click.BadParameter("only with resume", param_hint="'--skip-missed'")
    with _client(url, username, password) as client:
        try:
            if action == "show":
                result = client.batch_counts(tag)
            else:
                result = client.batch(tag, action, skip_missed)
        except (ApiError, ConnectionProblem) as exc:
            _fail(exc, as_json)
    if as_json:
        _print_json(result)
    elif action == "show":
        _echo_lines(format_counts(result))
    else:
        done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]
        click.echo(f"{done} {result.get('changed')} messages of batch {tag}")


SCHEDULE_COMMANDS: Sequence[click.Command] = (list_messages, reschedule, batch)
