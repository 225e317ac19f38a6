"""Authentication hardening: account versions, server-side console sessions, sign-in back-off
state and shared per-account request buckets.

- `accounts.version` grows with every change of the row, so a process that cached a verified
  credential can tell, with one indexed read, whether it still holds (see api/auth.py).
- `console_sessions`: one row per signed-in browser, found by the SHA-256 of the token in its
  cookie; deleting the row ends the session in every process at once.
- `auth_throttle`: failure counters and back-off deadlines per client, address and username,
  and the (username, address) pairs that signed in before (see api/guard.py).
- `rate_buckets`: per-account token buckets that several processes reserve tokens from in
  chunks (PostgreSQL; see api/ratelimit.py).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("version", sa.BigInteger, nullable=False, server_default="1")
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )
    op.create_index("console_sessions_account", "console_sessions", ["account_id"])
    op.create_index("console_sessions_expires", "console_sessions", ["expires_us"])
    op.create_table(
        "auth_throttle",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("blocked_until_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )
    op.create_index("auth_throttle_expires", "auth_throttle", ["expires_us"])
    op.create_table(
        "rate_buckets",
        sa.Column("account_id", sa.Integer, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("granted", sa.Float, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_index("auth_throttle_expires", "auth_throttle")
    op.drop_table("auth_throttle")
    op.drop_index("console_sessions_expires", "console_sessions")
    op.drop_index("console_sessions_account", "console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("accounts") as batch:  # SQLite rebuilds the table
        batch.drop_column("version")
