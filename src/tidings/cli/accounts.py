"""`tidings accounts add | list | remove | set`: manage API accounts in the database."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import click

from tidings import runtime
from tidings.cli._common import database_option, with_store
from tidings.core.opt_out import OptOutSettings, WordsInvalid, check_settings, parse_words
from tidings.core.passwords import hash_password
from tidings.core.quiet_hours import QuietHours, QuietHoursInvalid
from tidings.core.validation_sender import sender_problem
from tidings.store.base import Store


@click.group()
def accounts() -> None:
    """Manage API accounts."""


def _check_sender(sender: str | None) -> None:
    if sender is not None and (problem := sender_problem(sender)):
        raise click.BadParameter(problem, param_hint="--sender")


def _quiet_hours(value: str | None) -> str | None:
    """The window as stored ('' and None pass through: clear, keep)."""
    if not value:
        return value
    try:
        return str(QuietHours.parse(value.strip()))
    except QuietHoursInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="--quiet-hours") from None


def _inbound_url(value: str | None) -> str | None:
    """An http(s) URL ('' and None pass through: clear, keep). Where it may point (no private
    or loopback address) is checked at every delivery, as for delivery reports."""
    if not value:
        return value
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="--inbound-url")
    return url


_INBOUND_URL_HELP = (
    "Where inbound (MO) messages to this account are POSTed, signed like delivery reports."
)

_QUIET_HOURS_HELP = (
    "Quiet hours, HH:MM-HH:MM in the recipient's local time (e.g. 21:00-08:00): messages due "
    "inside are held to the window's end."
)


@accounts.command("add")
@click.argument("username")
@click.option("--password", help="Omit to generate a random one (printed once).")
@click.option("--sender", default=runtime.DEFAULT_SENDER, show_default=True, help="Default sender")
@click.option("--dlr-url", default=None, help="Default delivery-report URL")
@click.option("--quiet-hours", default=None, help=_QUIET_HOURS_HELP)
@click.option("--inbound-url", default=None, help=_INBOUND_URL_HELP)
@database_option
def accounts_add(
    username: str,
    password: str | None,
    sender: str,
    dlr_url: str | None,
    quiet_hours: str | None,
    inbound_url: str | None,
    database: str,
) -> None:
    """Create an account."""
    _check_sender(sender)
    window = _quiet_hours(quiet_hours)
    inbound = _inbound_url(inbound_url)
    if not username or ":" in username or len(username) > 100:
        raise click.BadParameter("1-100 characters, no ':'", param_hint="USERNAME")
    pw = password or secrets.token_urlsafe(18)

    async def go(store: Store) -> None:
        if await store.accounts.get(username) is not None:
            raise click.ClickException(f"account {username!r} already exists")
        acct = await runtime.create_account(store, username, pw, sender)
        if dlr_url or window:
            await store.accounts.update(username, dlr_url=dlr_url or None, quiet_hours=window)
        if inbound:
            await store.inbound.set_url(username, inbound)
        click.echo(f"created account {acct.username}")
        if password is None:
            click.echo(f"password: {pw}")
        click.echo(f"signing secret: {acct.signing_secret}")

    with_store(database, go)


@accounts.command("list")
@database_option
def accounts_list(database: str) -> None:
    """List accounts."""

    async def go(store: Store) -> None:
        rows = await store.accounts.all()
        if not rows:
            click.echo("no accounts")
            return
        click.echo(
            f"{'USERNAME':<24} {'SENDER':<12} {'DLR URL':<40} {'QUIET HOURS':<12} SIGNING SECRET"
        )
        for a in rows:
            click.echo(
                f"{a.username:<24} {a.default_sender:<12} {a.dlr_url or '-':<40} "
                f"{a.quiet_hours or '-':<12} {a.signing_secret}"
            )

    with_store(database, go)


@accounts.command("remove")
@click.argument("username")
@database_option
def accounts_remove(username: str, database: str) -> None:
    """Delete an account (its messages stay stored; its sessions and credentials end at once)."""

    async def go(store: Store) -> None:
        if not await store.accounts.remove(username):
            raise click.ClickException(f"no account {username!r}")
        click.echo(f"removed account {username}")

    with_store(database, go)


@accounts.command("set")
@click.argument("username")
@click.option("--password", default=None)
@click.option("--sender", default=None)
@click.option("--dlr-url", default=None, help="Default delivery-report URL ('' clears it)")
@click.option("--quiet-hours", default=None, help=_QUIET_HOURS_HELP + " '' clears them.")
@click.option(
    "--opt-out-words",
    default=None,
    help="Comma-separated words that opt a number out, besides STOP, UNSUBSCRIBE, STOPALL, "
    "CANCEL, END and QUIT (case and accents ignored; '' clears them).",
)
@click.option(
    "--opt-in-words",
    default=None,
    help="Comma-separated words that opt a number back in, besides START ('' clears them).",
)
@click.option(
    "--opt-out-reply", default=None, help="The confirmation sent on opt-out ('' the default)."
)
@click.option(
    "--opt-in-reply", default=None, help="The confirmation sent on opt-in ('' the default)."
)
@click.option("--inbound-url", default=None, help=_INBOUND_URL_HELP + " '' clears it.")
@database_option
def accounts_set(
    username: str,
    password: str | None,
    sender: str | None,
    dlr_url: str | None,
    quiet_hours: str | None,
    opt_out_words: str | None,
    opt_in_words: str | None,
    opt_out_reply: str | None,
    opt_in_reply: str | None,
    inbound_url: str | None,
    database: str,
) -> None:
    """Change an account's password, default sender, default DLR URL, quiet hours, opt-out
    keywords and replies, or inbound URL (at once, in every running process)."""
    _check_sender(sender)
    window = _quiet_hours(quiet_hours)
    inbound = _inbound_url(inbound_url)
    words_given = {
        "--opt-out-words": opt_out_words,
        "--opt-in-words": opt_in_words,
    }
    parsed: dict[str, tuple[str, ...] | None] = {}
    for option, raw in words_given.items():
        try:
            parsed[option] = None if raw is None else parse_words(raw, option=option)
        except WordsInvalid as exc:
            raise click.BadParameter(str(exc), param_hint=option) from None
    opt_out_given = any(
        v is not None for v in (opt_out_words, opt_in_words, opt_out_reply, opt_in_reply)
    )

    async def go(store: Store) -> None:
        if opt_out_given:
            await _set_opt_out(store, username, parsed, opt_out_reply, opt_in_reply)
        acct = await store.accounts.update(
            username,
            password_hash=hash_password(password) if password else None,
            default_sender=sender,
            dlr_url=dlr_url or None,
            clear_dlr_url=dlr_url == "",
            quiet_hours=window or None,
            clear_quiet_hours=window == "",
        )
        if acct is None:
            raise click.ClickException(f"no account {username!r}")
        if inbound is not None:
            await store.inbound.set_url(username, inbound or None)
        click.echo(f"updated account {username}")
        if password:  # see store/accounts.py (Accounts.update)
            click.echo("the old password stopped working; console sessions were signed out")

    with_store(database, go)


async def _set_opt_out(
    store: Store,
    username: str,
    words: dict[str, tuple[str, ...] | None],
    opt_out_reply: str | None,
    opt_in_reply: str | None,
) -> None:
    """Merge the given opt-out options into the account's settings (None keeps a field, ''
    clears it) and store them, refusing contradictory ones."""
    acct = await store.accounts.get(username)
    if acct is None:
        raise click.ClickException(f"no account {username!r}")
    now = await store.accounts.opt_out(acct.id)

    def reply(given: str | None, kept: str | None) -> str | None:
        return kept if given is None else (given.strip() or None)

    out_words, in_words = words["--opt-out-words"], words["--opt-in-words"]
    settings = OptOutSettings(
        opt_out_words=now.opt_out_words if out_words is None else out_words,
        opt_in_words=now.opt_in_words if in_words is None else in_words,
        opt_out_reply=reply(opt_out_reply, now.opt_out_reply),
        opt_in_reply=reply(opt_in_reply, now.opt_in_reply),
    )
    try:
        check_settings(settings)
    except WordsInvalid as exc:
        raise click.BadParameter(str(exc)) from None
    await store.accounts.set_opt_out(username, settings)
