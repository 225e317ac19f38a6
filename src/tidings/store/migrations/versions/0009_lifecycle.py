"""Scheduled-message lifecycle: list, inspect, reschedule, batches (issue 12).

- `omnimessages.batch`: an optional tag set on send; pause, resume and cancel act on every
  still-scheduled message of a tag at once.
- `message_events.due_us`: the new due time of a lifecycle event (rescheduled, paused,
  resumed), so the history shows when the message was moved to.
- Indexes for the list endpoint's keyset pages, one account each: newest first over
  (created_us, id), by state; soonest first over (due_us, id) for paused messages (the scheduled
  ones already have omnimessages_scheduled_due); and (account, batch, state, due_us) for the
  batch operations, partial on rows that have a batch.
- A paused message's timer has state 'paused': neither pending (never claimed) nor claimed.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("omnimessages", sa.Column("batch", sa.Text, nullable=True))
    op.add_column("message_events", sa.Column("due_us", sa.BigInteger, nullable=True))
    op.create_index(
        "omnimessages_account_created_id", "omnimessages", ["account_id", "created_us", "id"]
    )
    op.drop_index("omnimessages_account_created", "omnimessages")
    op.create_index(
        "omnimessages_account_state_created",
        "omnimessages",
        ["account_id", "state", "created_us", "id"],
    )
    op.create_index(
        "omnimessages_paused_due",
        "omnimessages",
        ["account_id", "due_us", "id"],
        sqlite_where=sa.text("state = 'paused'"),
        postgresql_where=sa.text("state = 'paused'"),
    )
    op.create_index(
        "omnimessages_account_batch",
        "omnimessages",
        ["account_id", "batch", "state", "due_us", "id"],
        sqlite_where=sa.text("batch IS NOT NULL"),
        postgresql_where=sa.text("batch IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("omnimessages_account_batch", "omnimessages")
    op.drop_index("omnimessages_paused_due", "omnimessages")
    op.drop_index("omnimessages_account_state_created", "omnimessages")
    op.create_index("omnimessages_account_created", "omnimessages", ["account_id", "created_us"])
    op.drop_index("omnimessages_account_created_id", "omnimessages")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a rebuild would lose the append-only
    # trigger of message_events.
    op.drop_column("message_events", "due_us")
    op.drop_column("omnimessages", "batch")
