"""The webhook outbox: reports to send, claimed in order per omnimessage, retried durably."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.dispatch import StatusChange
from tidings.core.report_payload import delivery_report_body
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import WebhookAttemptView, WebhookJob, WebhookResult
from tidings.store.tx import Tx

GONE_FOR_US = 24 * 3600 * 1_000_000

ENQUEUE = query("enqueue_webhook")
MARK_GONE_DUE = query("mark_gone_due")
DUE = query("due_webhooks")
CLAIM = query("claim_webhooks")
SECRETS = query("signing_secrets")
RECORD_ATTEMPT = query("record_webhook_attempt")
FINISH = query("finish_webhook")
DROP_GONE = query("drop_gone")
RECOVER = query("recover_webhooks")
NEXT = query("next_webhook")
ATTEMPTS = query("webhook_attempts")


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
        await tx.executemany(ENQUEUE, rows)
    return len(rows)


async def _claim(
    tx: Tx, owner: str, now_us: int, lease_until_us: int, limit: int
) -> list[WebhookJob]:
    await tx.execute(MARK_GONE_DUE, now_us, now_us - GONE_FOR_US)
    rows = await tx.fetch(DUE, now_us, limit, now_us - GONE_FOR_US)
    if not rows:
        return []
    claimed = await tx.fetch(CLAIM, [r["id"] for r in rows], owner, lease_until_us)
    accounts = sorted({int(r["account_id"]) for r in claimed})
    secrets = {r["id"]: r["signing_secret"] for r in await tx.fetch(SECRETS, accounts)}
    return sorted(
        (WebhookJob.from_row(r, secrets.get(r["account_id"], "")) for r in claimed),
        key=lambda j: j.id,
    )


async def _finish(tx: Tx, owner: str, results: Sequence[WebhookResult]) -> None:
    if not results:
        return
    await tx.executemany(
        RECORD_ATTEMPT,
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
    await tx.executemany(FINISH, rows)
    gone = sorted({(r.job.account_id, r.job.url) for r in results if r.final_state == "gone"})
    if gone:
        # 410 Gone: the receiver asked us to stop; drop what is queued for that URL.
        await tx.executemany(DROP_GONE, [(a, u, results[0].at_us) for a, u in gone])


async def _next(tx: Tx) -> int | None:
    rows = await tx.fetch(NEXT)
    return rows[0]["next_us"] if rows else None


async def webhook_attempts(tx: Tx, omnimessage_id: str) -> list[WebhookAttemptView]:
    return [WebhookAttemptView.from_row(r) for r in await tx.fetch(ATTEMPTS, omnimessage_id)]


class Outbox(Port):
    async def claim(
        self, owner: str, now_us: int, lease_until_us: int, limit: int
    ) -> list[WebhookJob]:
        """Lease due webhooks whose omnimessage has no older report still unfinished.

        A URL that answered 410 Gone gets nothing more for `GONE_FOR_US`: its due reports are
        marked gone instead of sent."""
        return await self._db.transact(lambda tx: _claim(tx, owner, now_us, lease_until_us, limit))

    async def finish(self, owner: str, results: Sequence[WebhookResult]) -> None:
        """Record each attempt; a result from a process that lost its lease changes no state."""
        await self._db.transact(lambda tx: _finish(tx, owner, results))

    async def recover(self, now_us: int) -> int:
        """Webhooks claimed by a process that died go back to pending (sent at most once more)."""
        return await self._db.transact(lambda tx: tx.execute(RECOVER, now_us))

    async def next_due_us(self) -> int | None:
        return await self._db.query(_next)

    async def attempts(self, omnimessage_id: str) -> list[WebhookAttemptView]:
        return await self._db.query(lambda tx: webhook_attempts(tx, omnimessage_id))
