"""Reads behind the web console: the scheduled queue, the inbox, a message's timeline, search.

Every list is keyset-paginated on an index (never OFFSET, never a COUNT over everything): the
caller passes the last row's sort key as `after`/`before` and asks for one row more than it shows
to learn whether there is a next page. Every query is limited to one account. An absent bound is
passed as the position before (or after) every row, so each list is one statement.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.store import events, messages, outbox
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import (
    ChannelBrief,
    Cursor,
    OmniBrief,
    SandboxDelivery,
    SandboxMessage,
    Timeline,
    WebhookReport,
)
from tidings.store.tx import Row, Tx

STORE_SECRET = query("store_console_secret")
SECRET = query("console_secret")
SCHEDULED = query("console_scheduled")
SEARCH_ID = query("console_search_id")
SEARCH_TO = query("console_search_to")
SEARCH_TEXT = query("console_search_text")
CHANNELS = query("console_channels")
INBOX = query("console_inbox")
INBOX_BEFORE = query("console_inbox_before")
INBOX_SINCE = query("console_inbox_since")
DELIVERIES = query("console_deliveries")
REPORTS = query("console_reports")
BATCHES = query("console_batches")

_FIRST: Cursor = (-(2**63), "")  # before every row (ids are never empty)
_LAST: Cursor = (2**63 - 1, "")  # after every row
_NEVER_US = 2**63 - 1


async def _secret(tx: Tx, name: str, candidate: str, now_us: int) -> str:
    await tx.execute(STORE_SECRET, name, candidate, now_us)
    rows = await tx.fetch(SECRET, name)
    return str(rows[0]["value"])


async def _with_channels(tx: Tx, rows: Sequence[Row]) -> list[OmniBrief]:
    if not rows:
        return []
    chans = await tx.fetch(CHANNELS, [str(r["id"]) for r in rows])
    by_omni: dict[str, list[ChannelBrief]] = {}
    for c in chans:
        by_omni.setdefault(c["omnimessage_id"], []).append(ChannelBrief.from_row(c))
    return [OmniBrief.from_row(r, tuple(by_omni.get(str(r["id"]), ()))) for r in rows]


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its own `%`, `_` and `\\` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


async def _timeline(tx: Tx, account_id: int, omni_id: str) -> Timeline | None:
    message = await messages.get(tx, account_id, omni_id)
    if message is None:
        return None
    deliveries = await tx.fetch(DELIVERIES, omni_id, account_id)
    reports = await tx.fetch(REPORTS, omni_id, account_id)
    attempts = await outbox.webhook_attempts(tx, omni_id) if reports else []
    return Timeline(
        message,
        tuple(SandboxDelivery.from_row(d) for d in deliveries),
        tuple(WebhookReport.from_row(r) for r in reports),
        tuple(attempts),
        tuple(await events.history(tx, omni_id)),
    )


class Console(Port):
    async def secret(self, name: str, candidate: str) -> str:
        """The secret stored under `name`, storing `candidate` first if there is none yet (the
        first process to ask wins; every other process reads the same value)."""
        now = await self._db.now_us()
        return await self._db.transact(lambda tx: _secret(tx, name, candidate, now))

    async def scheduled(
        self,
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
        # due_us >= from_us is (due_us, id) > (from_us, ''): one lower bound with the cursor.
        lower = max(after or _FIRST, _FIRST if from_us is None else (from_us, ""))
        upper = _NEVER_US if until_us is None else until_us

        async def script(tx: Tx) -> list[OmniBrief]:
            rows = await tx.fetch(
                SCHEDULED, account_id, lower[0], lower[1], upper, to, channel, limit
            )
            return await _with_channels(tx, rows)

        return await self._db.query(script)

    async def inbox(
        self, account_id: int, *, before: Cursor | None = None, limit: int = 50
    ) -> list[SandboxMessage]:
        """Delivered sandbox messages, newest first (by delivery time, then message id)."""

        async def script(tx: Tx) -> list[SandboxMessage]:
            if before is None:
                rows = await tx.fetch(INBOX, account_id, limit)
            else:
                rows = await tx.fetch(INBOX_BEFORE, account_id, before[0], before[1], limit)
            return [SandboxMessage.from_row(r) for r in rows]

        return await self._db.query(script)

    async def inbox_since(
        self, account_id: int, since_us: int, limit: int = 100
    ) -> list[SandboxMessage]:
        """Sandbox messages delivered at or after `since_us`, oldest first (the live feed)."""

        async def script(tx: Tx) -> list[SandboxMessage]:
            rows = await tx.fetch(INBOX_SINCE, account_id, since_us, limit)
            return [SandboxMessage.from_row(r) for r in rows]

        return await self._db.query(script)

    async def timeline(self, account_id: int, omni_id: str) -> Timeline | None:
        return await self._db.query(lambda tx: _timeline(tx, account_id, omni_id))

    async def search(
        self,
        account_id: int,
        *,
        omni_id: str | None = None,
        to: str | None = None,
        text: str | None = None,
        before: Cursor | None = None,
        limit: int = 50,
    ) -> list[OmniBrief]:
        """Omnimessages of one account, newest first, by exact id, exact recipient, or a piece
        of stored channel content (case-insensitive for ASCII; content a `sha256`/`nostore`
        message no longer keeps cannot match). Exactly one of `omni_id`, `to`, `text` is given."""
        if omni_id is not None:
            q, key = SEARCH_ID, omni_id
        elif to is not None:
            q, key = SEARCH_TO, to
        elif text is not None:
            q, key = SEARCH_TEXT, like_pattern(text)
        else:
            raise ValueError("search needs an id, a number or a text")
        at = before or _LAST

        async def script(tx: Tx) -> list[OmniBrief]:
            rows = await tx.fetch(q, account_id, key, at[0], at[1], limit)
            return await _with_channels(tx, rows)

        return await self._db.query(script)

    async def batches(self, account_id: int, tag: str | None = None) -> dict[str, dict[str, int]]:
        """The account's batches (or the one `tag`), tag -> state -> count, tags in order."""

        async def script(tx: Tx) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for r in await tx.fetch(BATCHES, account_id, tag):
                out.setdefault(r["batch"], {})[r["state"]] = int(r["n"])
            return out

        return await self._db.query(script)
