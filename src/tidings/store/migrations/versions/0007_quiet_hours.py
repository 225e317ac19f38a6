"""Quiet hours: an account's daily local-time window, and why a message's due time moved.

- `accounts.quiet_hours`: `HH:MM-HH:MM` or NULL (none).
- `omnimessages.moved_by`: `quiet_hours` when the due time was held past the requested one
  (`time_to_send_us` keeps what was asked, `due_us` is when it goes), else NULL.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("quiet_hours", sa.Text, nullable=True))
    op.add_column("omnimessages", sa.Column("moved_by", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("omnimessages") as batch:
        batch.drop_column("moved_by")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("quiet_hours")
