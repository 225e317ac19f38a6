"""Reads behind the web console: the scheduled queue, the inbox, a message's timeline, search.

Every list is keyset-paginated on an index (never OFFSET, never a COUNT over everything): the
caller passes the last row's sort key as `after`/`before` and asks for one row more than it shows
to learn whether there is a next page. Every query is limited to one account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tidings.store import events_sql
from tidings.store.events_sql import EventRow
from tidings.store.messages_sql import get_omnimessage
from tidings.store.outbox_sql import WebhookAttemptView, webhook_attempts
from tidings.store.records import OmniView, SandboxMessage
from tidings.store.tx import Tx

Cursor = tuple[int, str]  # (time in microseconds, id): a keyset position


@dataclass(frozen=True, slots=True)
class ChannelBrief:
    omnimessage_id: str
    position: int
    channel: str
    sender: str
    content: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class OmniBrief:
    """One omnimessage as a list row: scheduled queue and search results."""

    id: str
    to: str
    state: str
    priority: int
    time_to_send_us: int | None
    due_us: int
    created_us: int
    channels: tuple[ChannelBrief, ...]


@dataclass(frozen=True, slots=True)
class SandboxDelivery:
    message_id: str
    channel: str
    delivered_us: int
    handovers: int


@dataclass(frozen=True, slots=True)
class WebhookReport:
    id: int
    message_id: str
    url: str
    state: str
    attempts: int
    created_us: int
    finished_us: int | None
    last_status: int | None
    last_error: str | None
    body: str


@dataclass(frozen=True, slots=True)
class Timeline:
    message: OmniView
    deliveries: tuple[SandboxDelivery, ...]
    reports: tuple[WebhookReport, ...]
    attempts: tuple[WebhookAttemptView, ...]
    history: tuple[EventRow, ...] = ()  # the event log of the message, oldest first


_BRIEF_COLS = "o.id, o.to_number, o.state, o.priority, o.time_to_send_us, o.due_us, o.created_us"
_SANDBOX_COLS = "message_id, omnimessage_id, account_id, channel, to_number, sender, text, content, delivered_us"


async def console_secret(tx: Tx, name: str, candidate: str, now_us: int) -> str:
    """The secret stored under `name`, storing `candidate` first if there is none yet (the first
    process to ask wins; every other process reads the same value)."""
    await tx.execute(
        "INSERT INTO console_secrets (name, value, created_us) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO NOTHING",
        name,
        candidate,
        now_us,
    )
    rows = await tx.fetch("SELECT value FROM console_secrets WHERE name = $1", name)
    return str(rows[0][0])


async def _with_channels(tx: Tx, rows: Sequence[Sequence[object]]) -> list[OmniBrief]:
    if not rows:
        return []
    ids = [str(r[0]) for r in rows]
    chans = await tx.fetch(
        "SELECT omnimessage_id, position, channel, sender, content, status FROM channel_messages"
        " WHERE omnimessage_id IN_TEXT($1) ORDER BY omnimessage_id, position",
        ids,
    )
    by_omni: dict[str, list[ChannelBrief]] = {}
    for c in chans:
        by_omni.setdefault(c[0], []).append(ChannelBrief(*c))
    return [
        OmniBrief(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            int(str(r[3])),
            None if r[4] is None else int(str(r[4])),
            int(str(r[5])),
            int(str(r[6])),
            tuple(by_omni.get(str(r[0]), ())),
        )
        for r in rows
    ]


async def scheduled_page(
    tx: Tx,
    account_id: int,
    *,
    to: str | None = None,
    channel: str | None = None,
    from_us: int | None = None,
    until_us: int | None = None,
    after: Cursor | None = None,
    limit: int = 50,
) -> list[OmniBrief]:
    """Scheduled omnimessages, soonest first, walking `omnimessages_scheduled_due`.

    `channel` matches a message that uses that channel anywhere in its fallback chain.
    `from_us` is inclusive and `until_us` exclusive, on the due time.
    """
    where = ["o.account_id = $1", "o.state = 'scheduled'"]
    args: list[object] = [account_id]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if to is not None:
        where.append(f"o.to_number = {arg(to)}")
    if channel is not None:
        where.append(
            "EXISTS (SELECT 1 FROM channel_messages c WHERE c.omnimessage_id = o.id"
            f" AND c.channel = {arg(channel)})"
        )
    if from_us is not None:
        where.append(f"o.due_us >= {arg(from_us)}")
    if until_us is not None:
        where.append(f"o.due_us < {arg(until_us)}")
    if after is not None:
        where.append(f"(o.due_us, o.id) > ({arg(after[0])}, {arg(after[1])})")
    rows = await tx.fetch(
        f"SELECT {_BRIEF_COLS} FROM omnimessages o WHERE {' AND '.join(where)}"
        f" ORDER BY o.due_us, o.id LIMIT {arg(limit)}",
        *args,
    )
    return await _with_channels(tx, rows)


async def inbox_page(
    tx: Tx, account_id: int, *, before: Cursor | None = None, limit: int = 50
) -> list[SandboxMessage]:
    """Delivered sandbox messages, newest first (by delivery time, then message id)."""
    if before is None:
        rows = await tx.fetch(
            f"SELECT {_SANDBOX_COLS} FROM sandbox_messages WHERE account_id = $1"
            " ORDER BY delivered_us DESC, message_id DESC LIMIT $2",
            account_id,
            limit,
        )
    else:
        rows = await tx.fetch(
            f"SELECT {_SANDBOX_COLS} FROM sandbox_messages WHERE account_id = $1"
            " AND (delivered_us, message_id) < ($2, $3)"
            " ORDER BY delivered_us DESC, message_id DESC LIMIT $4",
            account_id,
            before[0],
            before[1],
            limit,
        )
    return [SandboxMessage(*r) for r in rows]


async def inbox_since(
    tx: Tx, account_id: int, since_us: int, limit: int = 100
) -> list[SandboxMessage]:
    """Sandbox messages delivered at or after `since_us`, oldest first (the live feed)."""
    rows = await tx.fetch(
        f"SELECT {_SANDBOX_COLS} FROM sandbox_messages WHERE account_id = $1"
        " AND delivered_us >= $2 ORDER BY delivered_us, message_id LIMIT $3",
        account_id,
        since_us,
        limit,
    )
    return [SandboxMessage(*r) for r in rows]


async def timeline(tx: Tx, account_id: int, omni_id: str) -> Timeline | None:
    message = await get_omnimessage(tx, account_id, omni_id)
    if message is None:
        return None
    deliveries = await tx.fetch(
        "SELECT message_id, channel, delivered_us, handovers FROM sandbox_messages"
        " WHERE omnimessage_id = $1 AND account_id = $2 ORDER BY delivered_us, message_id",
        omni_id,
        account_id,
    )
    reports = await tx.fetch(
        "SELECT id, message_id, url, state, attempts, created_us, finished_us, last_status,"
        " last_error, body FROM webhooks WHERE omnimessage_id = $1 AND account_id = $2"
        " ORDER BY id",
        omni_id,
        account_id,
    )
    attempts = await webhook_attempts(tx, omni_id) if reports else []
    return Timeline(
        message,
        tuple(SandboxDelivery(*d) for d in deliveries),
        tuple(WebhookReport(*r) for r in reports),
        tuple(attempts),
        tuple(await events_sql.history(tx, omni_id)),
    )


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its own `%`, `_` and `\\` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


async def search(
    tx: Tx,
    account_id: int,
    *,
    omni_id: str | None = None,
    to: str | None = None,
    text: str | None = None,
    before: Cursor | None = None,
    limit: int = 50,
) -> list[OmniBrief]:
    """Omnimessages of one account, newest first, by exact id, exact recipient, or a piece of
    stored channel content (case-insensitive for ASCII; content a `sha256`/`nostore` message no
    longer keeps cannot match). Exactly one of `omni_id`, `to`, `text` is given."""
    where = ["o.account_id = $1"]
    args: list[object] = [account_id]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if omni_id is not None:
        where.append(f"o.id = {arg(omni_id)}")
    elif to is not None:
        where.append(f"o.to_number = {arg(to)}")
    elif text is not None:
        where.append(
            "EXISTS (SELECT 1 FROM channel_messages c WHERE c.omnimessage_id = o.id"
            f" AND LOWER(c.content) LIKE {arg(like_pattern(text))} ESCAPE '\\')"
        )
    else:
        raise ValueError("search needs an id, a number or a text")
    if before is not None:
        where.append(f"(o.created_us, o.id) < ({arg(before[0])}, {arg(before[1])})")
    rows = await tx.fetch(
        f"SELECT {_BRIEF_COLS} FROM omnimessages o WHERE {' AND '.join(where)}"
        f" ORDER BY o.created_us DESC, o.id DESC LIMIT {arg(limit)}",
        *args,
    )
    return await _with_channels(tx, rows)
