"""Inbound (MO) messages (issue 13 part 1).

- `inbound_messages`: one row per message a recipient sent us, unique on `(connector,
  event_key)` (the provider's message id), so a replayed webhook inserts nothing. `account_id`
  is its owner (NULL: no account claimed it); `forward_state` says whether it was queued for the
  owner's inbound URL (`pending` until the forwarding transaction ran; `queued`; `none`: no
  owner or no URL), so a process that died in between forwards it on its next start.
- `accounts.inbound_url`: where an account's inbound messages are forwarded.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("inbound_url", sa.Text, nullable=True))
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("connector", sa.Text, nullable=False),
        sa.Column("event_key", sa.Text, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("forward_state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("opt_out", sa.Text, nullable=True),
        sa.UniqueConstraint("connector", "event_key", name="inbound_messages_connector_key"),
    )
    op.create_index(
        "inbound_messages_account_received",
        "inbound_messages",
        ["account_id", "received_us", "id"],
    )
    op.create_index(
        "inbound_messages_pending",
        "inbound_messages",
        ["received_us"],
        sqlite_where=sa.text("forward_state = 'pending'"),
        postgresql_where=sa.text("forward_state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("inbound_messages_pending", "inbound_messages")
    op.drop_index("inbound_messages_account_received", "inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_column("accounts", "inbound_url")
