"""The webhook outbox: reports to send, claimed in order per omnimessage, retried durably."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tidings.core.dispatch import StatusChange
from tidings.core.report_payload import delivery_report_body
from tidings.store.tx import Tx

GONE_FOR_US = 24 * 3600 * 1_000_000


@dataclass(frozen=True, slots=True)
class WebhookJob:
    id: int
    account_id: int
    omnimessage_id: str
    url: str
    body: bytes
    attempts: int  # attempts made before this one
    signing_secret: str


@dataclass(frozen=True, slots=True)
class WebhookResult:
    job: WebhookJob
    at_us: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    next_us: int | None  # when to try again; None = give up (unless ok)
    final_state: str | None = None  # "gone" | "blocked" to stop at once


@dataclass(frozen=True, slots=True)
class WebhookAttemptView:
    webhook_id: int
    message_id: str
    url: str
    state: str
    attempt: int
    at_us: int
    status_code: int | None
    error: str | None
    duration_ms: float | None


async def enqueue_webhooks(tx: Tx, changes: Sequence[StatusChange], now_us: int) -> int:
    """Queue one webhook per status change that has a URL, in the same transaction as the change."""
    rows = [
        (
            c.account_id,
            c.omnimessage_id,
            c.message_id,
            c.dlr_url,
            delivery_report_body(c).decode(),
            now_us,
        )
        for c in changes
        if c.dlr_url
    ]
    if rows:
        await tx.executemany(
            "INSERT INTO webhooks (account_id, omnimessage_id, message_id, url, body, state,"
            " attempts, next_us, created_us) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
            rows,
        )
    return len(rows)


async def claim_webhooks(
    tx: Tx, owner: str, now_us: int, lease_until_us: int, limit: int
) -> list[WebhookJob]:
    """Lease due webhooks whose omnimessage has no older report still unfinished.

    A URL that answered 410 Gone gets nothing more for `GONE_FOR_US`: its due reports are
    marked gone instead of sent.
    """
    await tx.execute(
        "UPDATE webhooks SET state = 'gone', finished_us = $1 WHERE state = 'pending'"
        " AND next_us <= $1 AND EXISTS (SELECT 1 FROM webhooks g"
        "  WHERE g.account_id = webhooks.account_id AND g.url = webhooks.url"
        "  AND g.state = 'gone' AND g.last_status = 410 AND g.finished_us > $2)",
        now_us,
        now_us - GONE_FOR_US,
    )
    # The gone test is repeated here: on PostgreSQL each statement has its own snapshot, and a
    # report committed between the two statements must not slip past it.
    rows = await tx.fetch(
        "SELECT w.id FROM webhooks w WHERE w.state = 'pending' AND w.next_us <= $1"
        " AND NOT EXISTS (SELECT 1 FROM webhooks p WHERE p.omnimessage_id = w.omnimessage_id"
        "  AND p.id < w.id AND p.state IN ('pending', 'claimed'))"
        " AND NOT EXISTS (SELECT 1 FROM webhooks g"
        "  WHERE g.account_id = w.account_id AND g.url = w.url"
        "  AND g.state = 'gone' AND g.last_status = 410 AND g.finished_us > $3)"
        " ORDER BY w.next_us LIMIT $2 FOR_UPDATE_SKIP",
        now_us,
        limit,
        now_us - GONE_FOR_US,
    )
    if not rows:
        return []
    claimed = await tx.fetch(
        "UPDATE webhooks SET state = 'claimed', lease_owner = $2, lease_until_us = $3"
        " WHERE id IN_BIGINT($1) AND state = 'pending'"
        " RETURNING id, account_id, omnimessage_id, url, body, attempts",
        [r[0] for r in rows],
        owner,
        lease_until_us,
    )
    secrets = {
        r[0]: r[1]
        for r in await tx.fetch(
            "SELECT id, signing_secret FROM accounts WHERE id IN_BIGINT($1)",
            sorted({int(r[1]) for r in claimed}),
        )
    }
    return sorted(
        (
            WebhookJob(r[0], r[1], r[2], r[3], str(r[4]).encode(), r[5], secrets.get(r[1], ""))
            for r in claimed
        ),
        key=lambda j: j.id,
    )


async def finish_webhooks(tx: Tx, owner: str, results: Sequence[WebhookResult]) -> None:
    """Record each attempt; a result from a process that lost its lease changes no state."""
    if not results:
        return
    await tx.executemany(
        "INSERT INTO webhook_attempts (webhook_id, attempt, at_us, status_code, error, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (r.job.id, r.job.attempts + 1, r.at_us, r.status_code, r.error, r.duration_ms)
            for r in results
        ],
    )
    rows = []
    for r in results:
        if r.ok:
            state, next_us = "delivered", None
        elif r.final_state is not None:
            state, next_us = r.final_state, None
        elif r.next_us is None:
            state, next_us = "failed", None
        else:
            state, next_us = "pending", r.next_us
        rows.append((r.job.id, owner, state, next_us, r.status_code, r.error, r.at_us))
    await tx.executemany(
        "UPDATE webhooks SET state = $3, attempts = attempts + 1,"
        " next_us = COALESCE(CAST($4 AS BIGINT), next_us), last_status = $5, last_error = $6,"
        " finished_us = CASE WHEN $3 = 'pending' THEN NULL ELSE CAST($7 AS BIGINT) END,"
        " lease_owner = NULL, lease_until_us = NULL"
        " WHERE id = $1 AND state = 'claimed' AND lease_owner = $2",
        rows,
    )
    gone = sorted({(r.job.account_id, r.job.url) for r in results if r.final_state == "gone"})
    if gone:
        # 410 Gone: the receiver asked us to stop; drop what is queued for that URL.
        await tx.executemany(
            "UPDATE webhooks SET state = 'gone', finished_us = $3"
            " WHERE account_id = $1 AND url = $2 AND state = 'pending'",
            [(a, u, results[0].at_us) for a, u in gone],
        )


async def recover_webhooks(tx: Tx, now_us: int) -> int:
    """Webhooks claimed by a process that died go back to pending (sent at most once more)."""
    return await tx.execute(
        "UPDATE webhooks SET state = 'pending', lease_owner = NULL, lease_until_us = NULL"
        " WHERE state = 'claimed' AND lease_until_us < $1",
        now_us,
    )


async def next_webhook_us(tx: Tx) -> int | None:
    rows = await tx.fetch("SELECT MIN(next_us) FROM webhooks WHERE state = 'pending'")
    return rows[0][0] if rows and rows[0][0] is not None else None


async def webhook_attempts(tx: Tx, omnimessage_id: str) -> list[WebhookAttemptView]:
    rows = await tx.fetch(
        "SELECT w.id, w.message_id, w.url, w.state, a.attempt, a.at_us, a.status_code, a.error,"
        " a.duration_ms FROM webhooks w JOIN webhook_attempts a ON a.webhook_id = w.id"
        " WHERE w.omnimessage_id = $1 ORDER BY a.at_us, a.id",
        omnimessage_id,
    )
    return [WebhookAttemptView(*r) for r in rows]
