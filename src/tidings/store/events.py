"""The append-only event log: every status recorded and every connector answer, never updated.

Statuses are appended in the same transaction that records them, together with their webhooks
(`record`), so the log, the current status kept on `channel_messages` and the reports sent to a
`dlr_url` can never disagree.

A connector's acceptance and the status it reported with it (ACK), both at the instant of
handing over, are stored as one `answered` row and read back as the two events they are
(`history`): one insert fewer per message sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tidings.core.dispatch import Outcome, StatusChange
from tidings.core.lifecycle import AttemptEvent
from tidings.store.outbox import enqueue_webhooks
from tidings.store.port import Port
from tidings.store.queries import query
from tidings.store.records import EventRow
from tidings.store.tx import Tx

APPEND_STATUS = query("append_status")
APPEND_ATTEMPT = query("append_attempt")
APPEND_ANSWERED = query("append_answered")
HISTORY = query("history")


async def record(
    tx: Tx,
    changes: Sequence[StatusChange],
    now_us: int,
    attempts: Sequence[AttemptEvent] = (),
) -> None:
    """Append the statuses and answers to the log and queue the statuses' webhooks."""
    answered, lone_attempts, lone_changes = _pair(attempts, changes)
    if answered:
        await tx.executemany(
            APPEND_ANSWERED,
            [
                (
                    a.omnimessage_id,
                    a.message_id,
                    c.status,
                    c.err,
                    a.outcome,
                    a.connector,
                    a.provider_ref,
                    c.parts_count,
                    c.part_price,
                    a.at_us,
                )
                for a, c in answered
            ],
        )
    if lone_attempts:
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
                for a in lone_attempts
            ],
        )
    if lone_changes:
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
                for c in lone_changes
            ],
        )
    if changes:
        await enqueue_webhooks(tx, changes, now_us)


def _pair(
    attempts: Sequence[AttemptEvent], changes: Sequence[StatusChange]
) -> tuple[list[tuple[AttemptEvent, StatusChange]], list[AttemptEvent], list[StatusChange]]:
    """Split into (acceptance, its status) pairs that one `answered` row holds exactly, and the
    rest. A pair: an accepted attempt without error and a status of the same channel message at
    the same instant, without error text."""
    if not attempts or not changes:
        return [], list(attempts), list(changes)
    accepted = {
        (a.message_id, a.at_us): a
        for a in attempts
        if a.outcome == Outcome.ACCEPTED and a.err is None and a.error is None
    }
    pairs: list[tuple[AttemptEvent, StatusChange]] = []
    paired: set[int] = set()
    lone_changes: list[StatusChange] = []
    for c in changes:
        a = accepted.pop((c.message_id, c.at_us), None) if c.error is None else None
        if a is None:
            lone_changes.append(c)
        else:
            pairs.append((a, c))
            paired.add(id(a))
    return pairs, [a for a in attempts if id(a) not in paired], lone_changes


def _expanded(e: EventRow) -> tuple[EventRow, ...]:
    """An `answered` row as the attempt event and the status event it stands for."""
    if e.kind != "answered":
        return (e,)
    attempt = replace(e, kind="attempt", status=None, err=None, parts_count=None, part_price=None)
    status = replace(e, kind="status", outcome=None, connector=None, provider_ref=None)
    return attempt, status


async def history(tx: Tx, omni_id: str) -> list[EventRow]:
    """Every event of one omnimessage, oldest first."""
    return [x for r in await tx.fetch(HISTORY, omni_id) for x in _expanded(EventRow.from_row(r))]


class Events(Port):
    async def history(self, omni_id: str) -> list[EventRow]:
        """Every event of one omnimessage, oldest first."""
        return await self._db.query(lambda tx: history(tx, omni_id))
