"""The append-only event log: every status recorded and every connector answer, never updated.

Statuses are appended in the same transaction that records them, together with their webhooks
(`record`), so the log, the current status kept on `channel_messages` and the reports sent to a
`dlr_url` can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.dispatch import StatusChange
from tidings.core.lifecycle import AttemptEvent
from tidings.store.outbox import enqueue_webhooks
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import EventRow
from tidings.store.tx import Tx

APPEND_STATUS = query("append_status")
APPEND_ATTEMPT = query("append_attempt")
HISTORY = query("history")


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


class Events(Port):
    async def history(self, omni_id: str) -> list[EventRow]:
        """Every event of one omnimessage, oldest first."""
        return await self._db.query(lambda tx: history(tx, omni_id))
