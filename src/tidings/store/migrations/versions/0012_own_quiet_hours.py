"""A message's own quiet hours, as sent, so that a reschedule applies the same window.

- `omnimessages.quiet_hours`: the request's own `quiet_hours` extension field: NULL when the
  request did not name one (the account's window applies, as it is when the message is
  rescheduled), `''` when it was `null` (no quiet hours for this message), else `HH:MM-HH:MM`.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("omnimessages", sa.Column("quiet_hours", sa.Text, nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), as 0009 does.
    op.drop_column("omnimessages", "quiet_hours")
