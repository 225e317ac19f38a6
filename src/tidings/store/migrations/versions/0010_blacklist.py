"""Blacklist (Messente's Phonebook API) and keyword opt-out (issue 13, parts 3 and 4).

- `blacklist`: one row per (account, E.164 number) never to be sent to; `source` says who listed
  it (`api`, `opt_out`), `inbound_id` the inbound message of an opt-out.
- `blacklist_events`: append-only history of every listing and removal (an opt-out or opt-in is
  one, with its inbound message), never updated (a trigger refuses it, as for message_events).
- `omnimessages.purpose`: NULL for every ordinary message; `opt_out_reply` / `opt_in_reply` for
  the confirmation the opt-out rules send, which the fire-time blacklist rule lets through.
- `accounts.opt_out_words`, `opt_in_words` (comma-separated, normalised), `opt_out_reply`,
  `opt_in_reply`: the account's own keywords and confirmation texts (NULL: the defaults).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "blacklist",
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("inbound_id", sa.Text, nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "phone", name="blacklist_pkey"),
    )
    op.create_table(
        "blacklist_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("inbound_id", sa.Text, nullable=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "blacklist_events_account_phone", "blacklist_events", ["account_id", "phone", "id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION blacklist_events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'blacklist_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER blacklist_events_no_update BEFORE UPDATE ON blacklist_events"
            " FOR EACH ROW EXECUTE FUNCTION blacklist_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER blacklist_events_no_update BEFORE UPDATE ON blacklist_events"
            " BEGIN SELECT RAISE(ABORT, 'blacklist_events is append-only'); END"
        )
    op.add_column("omnimessages", sa.Column("purpose", sa.Text, nullable=True))
    for column in ("opt_out_words", "opt_in_words", "opt_out_reply", "opt_in_reply"):
        op.add_column("accounts", sa.Column(column, sa.Text, nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), as in 0009.
    for column in ("opt_in_reply", "opt_out_reply", "opt_in_words", "opt_out_words"):
        op.drop_column("accounts", column)
    op.drop_column("omnimessages", "purpose")
    op.drop_table("blacklist_events")  # its trigger goes with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS blacklist_events_append_only()")
    op.drop_table("blacklist")
