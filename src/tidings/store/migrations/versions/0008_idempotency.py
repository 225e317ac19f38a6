"""Idempotency keys: one row per (account, `Idempotency-Key`) for 24 hours.

A row is claimed (`state = 'pending'`, a random `token`) before the request acts and completed
(`'done'`, with the answer's status, headers and body) when it answers; the send endpoints
complete it in the transaction that stores the messages (see store/idempotency.py).
`request_hash` is the SHA-256 of method, path, query and canonical body: the same key with
another request is refused. `created_us` is indexed for the dispatcher's purge of rows past
24 hours.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.Integer, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("headers", sa.Text, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("claimed_us", sa.BigInteger, nullable=False),
    )
    op.create_index("idempotency_keys_created", "idempotency_keys", ["created_us"])


def downgrade() -> None:
    op.drop_index("idempotency_keys_created", "idempotency_keys")
    op.drop_table("idempotency_keys")
