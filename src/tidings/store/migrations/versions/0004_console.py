"""Web console: its persisted secrets (session signing key) and the indexes its pages walk.

Revision 0004 (providers) was written first and revises 0002, so this one follows 0004 to keep a
single head; the id is only a label.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_secrets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    # Scheduled page: keyset pagination over (due_us, id) of one account's scheduled messages.
    # Partial, so it holds only what is still waiting, however many have been sent.
    op.create_index(
        "omnimessages_scheduled_due",
        "omnimessages",
        ["account_id", "due_us", "id"],
        sqlite_where=sa.text("state = 'scheduled'"),
        postgresql_where=sa.text("state = 'scheduled'"),
    )
    # Search by recipient, newest first.
    op.create_index(
        "omnimessages_account_to", "omnimessages", ["account_id", "to_number", "created_us", "id"]
    )
    # Inbox, newest first across recipients (the live feed polls the top of it).
    op.create_index(
        "sandbox_messages_account_delivered",
        "sandbox_messages",
        ["account_id", "delivered_us", "message_id"],
    )
    op.create_index("sandbox_messages_omnimessage", "sandbox_messages", ["omnimessage_id"])


def downgrade() -> None:
    op.drop_index("sandbox_messages_omnimessage", "sandbox_messages")
    op.drop_index("sandbox_messages_account_delivered", "sandbox_messages")
    op.drop_index("omnimessages_account_to", "omnimessages")
    op.drop_index("omnimessages_scheduled_due", "omnimessages")
    op.drop_table("console_secrets")
