"""Provider connectors: de-duplication of provider callbacks and the Telegram chat registry.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per provider callback event already turned into a report: the primary key decides
    # (INSERT ... ON CONFLICT DO NOTHING) whether a replayed or repeated callback is new.
    op.create_table(
        "provider_events",
        sa.Column("connector", sa.Text, nullable=False),
        sa.Column("event_key", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("connector", "event_key", name="provider_events_pkey"),
    )
    op.create_index("provider_events_received", "provider_events", ["received_us"])
    # Telegram cannot address a phone number: a consented phone -> chat id registry per bot.
    op.create_table(
        "telegram_chats",
        sa.Column("connector", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),  # 'start_link' | 'contact'
        sa.Column("consent_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("connector", "phone", name="telegram_chats_pkey"),
    )
    op.create_index("telegram_chats_chat", "telegram_chats", ["connector", "chat_id"])
    # One-time deep-link tokens (https://t.me/<bot>?start=<token>), each issued for one phone.
    op.create_table(
        "telegram_links",
        sa.Column("token", sa.Text, primary_key=True),
        sa.Column("connector", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("used_us", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("telegram_links")
    op.drop_index("telegram_chats_chat", table_name="telegram_chats")
    op.drop_table("telegram_chats")
    op.drop_index("provider_events_received", table_name="provider_events")
    op.drop_table("provider_events")
