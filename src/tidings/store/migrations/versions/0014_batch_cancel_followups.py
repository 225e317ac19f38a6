"""A batch cancel's remaining work, kept until done (issue 12).

A batch cancel decides in one conditional update of the batch's omnimessages and answers; the
DELETED status of each of their channels, its event and its webhook, and the removal of their
send timers, are written after it in chunks (store/schedule.py). `batch_cancel_followups` holds
one row per such cancel still being written out, with how far it has come, so a process that
stops midway leaves the rest to the next one.

`omnimessages_account_batch` becomes (account_id, batch, id): without `state` in its key a
batch-wide state change leaves the index as it is instead of moving each entry (SQLite:
cancelling 100 000 in one update took 1.4-1.8 s with `state` in the key, 0.6-1.1 s without), and
in id order (time order: core/ids.py) the write-out walks the batch's rows in the order they were
written, page after page. Its readers name a batch and filter the state on the row.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCHED = "batch IS NOT NULL"


def _batch_index(columns: list[str]) -> None:
    op.drop_index("omnimessages_account_batch", "omnimessages")
    op.create_index(
        "omnimessages_account_batch",
        "omnimessages",
        columns,
        sqlite_where=sa.text(BATCHED),
        postgresql_where=sa.text(BATCHED),
    )


def upgrade() -> None:
    op.create_table(
        "batch_cancel_followups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("batch", sa.Text, nullable=False),
        sa.Column("cancelled_us", sa.BigInteger, nullable=False),
        sa.Column("after_id", sa.Text, nullable=False, server_default=""),
    )
    _batch_index(["account_id", "batch", "id"])


def downgrade() -> None:
    _batch_index(["account_id", "batch", "state", "due_us", "id"])
    op.drop_table("batch_cancel_followups")
