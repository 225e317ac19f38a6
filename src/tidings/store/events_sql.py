"""The append-only event log: every status recorded and every connector answer, never updated.

Statuses are appended in the same transaction that records them, together with their webhooks
(`record`), so the log, the current status kept on `channel_messages` and the reports sent to a
`dlr_url` can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tidings.core.dispatch import StatusChange
from tidings.core.lifecycle import AttemptEvent
from tidings.store.outbox_sql import enqueue_webhooks
from tidings.store.tx import Row, Tx

APPEND_STATUS = (
    "INSERT INTO message_events (omnimessage_id, message_id, kind, status, err, error,"
    " parts_count, part_price, at_us) VALUES ($1, $2, 'status', $3, $4, $5, $6, $7, $8)"
)
APPEND_ATTEMPT = (
    "INSERT INTO message_events (omnimessage_id, message_id, kind, outcome, connector,"
    " provider_ref, err, error, at_us) VALUES ($1, $2, 'attempt', $3, $4, $5, $6, $7, $8)"
)
HISTORY = (
    "SELECT id, message_id, kind, status, outcome, err, error, connector, provider_ref,"
    " parts_count, part_price, at_us FROM message_events WHERE omnimessage_id = $1"
    " ORDER BY at_us, id"
)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the log, read by name."""

    id: int
    message_id: str
    kind: str  # status | attempt
    status: str | None
    outcome: str | None
    err: int | None
    error: str | None
    connector: str | None
    provider_ref: str | None
    parts_count: int | None
    part_price: str | None
    at_us: int

    @classmethod
    def from_row(cls, r: Row) -> EventRow:
        return cls(
            id=r[0],
            message_id=r[1],
            kind=r[2],
            status=r[3],
            outcome=r[4],
            err=r[5],
            error=r[6],
            connector=r[7],
            provider_ref=r[8],
            parts_count=r[9],
            part_price=r[10],
            at_us=r[11],
        )


async def record(
    tx: Tx,
    changes: Sequence[StatusChange],
    now_us: int,
    attempts: Sequence[AttemptEvent] = (),
) -> None:
    """Append the statuses and answers to the log and queue the statuses' webhooks."""
    if attempts:
        await tx.executemany(
            APPEND_ATTEMPT,
            [
                (
                    a.omnimessage_id,
                    a.message_id,
                    a.outcome,
                    a.connector,
                    a.provider_ref,
                    a.err,
                    a.error,
                    a.at_us,
                )
                for a in attempts
            ],
        )
    if changes:
        await tx.executemany(
            APPEND_STATUS,
            [
                (
                    c.omnimessage_id,
                    c.message_id,
                    c.status,
                    c.err,
                    c.error,
                    c.parts_count,
                    c.part_price,
                    c.at_us,
                )
                for c in changes
            ],
        )
        await enqueue_webhooks(tx, changes, now_us)


async def history(tx: Tx, omni_id: str) -> list[EventRow]:
    """Every event of one omnimessage, oldest first."""
    return [EventRow.from_row(r) for r in await tx.fetch(HISTORY, omni_id)]
