"""Initial schema: accounts, omnimessages, channel messages, timers, sandbox inbox.

All times are UTC microseconds since the Unix epoch in BIGINT `*_us` columns: one representation
that compares the same way in SQLite and PostgreSQL, with no time zone to get wrong.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.Text, nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("default_sender", sa.Text, nullable=False),
        sa.Column("dlr_url", sa.Text, nullable=True),
        sa.Column("signing_secret", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "omnimessages",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("to_number", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("time_to_send_us", sa.BigInteger, nullable=True),
        sa.Column("due_us", sa.BigInteger, nullable=False),
        sa.Column("dlr_url", sa.Text, nullable=True),
        sa.Column("text_store", sa.Text, nullable=False),
        sa.Column("position", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("omnimessages_account_created", "omnimessages", ["account_id", "created_us"])
    op.create_table(
        "channel_messages",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("omnimessage_id", sa.Text, nullable=False),
        sa.Column("position", sa.SmallInteger, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("validity_s", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=True),
        sa.Column("err", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("status_us", sa.BigInteger, nullable=True),
        sa.Column("sent_us", sa.BigInteger, nullable=True),
        sa.Column("connector", sa.Text, nullable=True),
        sa.Column("provider_ref", sa.Text, nullable=True),
        sa.Column("parts_count", sa.Integer, nullable=True),
        sa.Column("part_price", sa.Text, nullable=True),
        sa.UniqueConstraint("omnimessage_id", "position", name="channel_messages_omni_position"),
    )
    op.create_index(
        "channel_messages_provider_ref", "channel_messages", ["connector", "provider_ref"]
    )
    op.create_table(
        "timers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("due_us", sa.BigInteger, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("lease_token", sa.BigInteger, nullable=True),
        sa.Column("lease_until_us", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    )
    # The claim query walks this partial index: pending rows only, so it stays small however
    # many messages have been sent, and per priority, so high is served before regular and low.
    op.create_index(
        "timers_pending_due",
        "timers",
        ["priority", "due_us"],
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "timers_claimed_lease",
        "timers",
        ["lease_until_us"],
        sqlite_where=sa.text("state = 'claimed'"),
        postgresql_where=sa.text("state = 'claimed'"),
    )
    op.create_index("timers_ref", "timers", ["ref"])
    op.create_table(
        "sandbox_messages",
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("omnimessage_id", sa.Text, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("to_number", sa.Text, nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("delivered_us", sa.BigInteger, nullable=False),
        # Times the connector was handed this message id: more than 1 is a duplicate send.
        sa.Column("handovers", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index(
        "sandbox_messages_account_to",
        "sandbox_messages",
        ["account_id", "to_number", "delivered_us"],
    )


def downgrade() -> None:
    for table in ("sandbox_messages", "timers", "channel_messages", "omnimessages", "accounts"):
        op.drop_table(table)
