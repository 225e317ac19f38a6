"""The state listings' index without a write on accept.

`omnimessages_account_state_created` (0009) held every omnimessage, so each accepted message
wrote one more index page in its commit (WAL frames per single POST: 13.4 with it, 12.4
without) and each state change moved its entry twice. The listings by state it served, newest
first, are of two kinds (a scheduled or paused listing goes by due time, on its own partial
index): the final states, which a message enters once, and `processing` (shown as `sent`),
which it passes through. Each gets a partial index, and neither holds a message still waiting.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FINAL = "state IN ('delivered', 'failed', 'expired', 'cancelled')"
PROCESSING = "state = 'processing'"


def upgrade() -> None:
    op.drop_index("omnimessages_account_state_created", "omnimessages")
    op.create_index(
        "omnimessages_final_created",
        "omnimessages",
        ["account_id", "state", "created_us", "id"],
        sqlite_where=sa.text(FINAL),
        postgresql_where=sa.text(FINAL),
    )
    op.create_index(
        "omnimessages_processing_created",
        "omnimessages",
        ["account_id", "created_us", "id"],
        sqlite_where=sa.text(PROCESSING),
        postgresql_where=sa.text(PROCESSING),
    )


def downgrade() -> None:
    op.drop_index("omnimessages_processing_created", "omnimessages")
    op.drop_index("omnimessages_final_created", "omnimessages")
    op.create_index(
        "omnimessages_account_state_created",
        "omnimessages",
        ["account_id", "state", "created_us", "id"],
    )
