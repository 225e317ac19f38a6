"""The append-only event log, and when each channel's validity started.

`message_events` holds one row per status recorded for a channel message (`kind = 'status'`)
and one per connector answer (`kind = 'attempt'`, `outcome` accepted | rejected | retry |
unknown). Rows are never updated (a trigger refuses it on both backends): the status endpoint
reads the latest status kept beside them on `channel_messages`, the console timeline reads the
whole history.

Existing databases are carried over: every channel message's latest status becomes its first
status event, and every accepted hand-over (a `sent_us` with a connector) an attempt event.

`channel_messages.started_us` is the first hand-over of a channel: its validity runs from there,
across retries.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("channel_messages", sa.Column("started_us", sa.BigInteger, nullable=True))
    op.create_table(
        "message_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("omnimessage_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("err", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("connector", sa.Text, nullable=True),
        sa.Column("provider_ref", sa.Text, nullable=True),
        sa.Column("parts_count", sa.Integer, nullable=True),
        sa.Column("part_price", sa.Text, nullable=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("message_events_omnimessage", "message_events", ["omnimessage_id", "id"])
    op.execute("UPDATE channel_messages SET started_us = sent_us WHERE sent_us IS NOT NULL")
    op.execute(
        "INSERT INTO message_events (omnimessage_id, message_id, kind, outcome, connector,"
        " provider_ref, at_us) SELECT omnimessage_id, id, 'attempt', 'accepted', connector,"
        " provider_ref, sent_us FROM channel_messages"
        " WHERE sent_us IS NOT NULL AND connector IS NOT NULL ORDER BY sent_us, id"
    )
    op.execute(
        "INSERT INTO message_events (omnimessage_id, message_id, kind, status, err, error,"
        " parts_count, part_price, at_us) SELECT omnimessage_id, id, 'status', status, err, error,"
        " parts_count, part_price, status_us FROM channel_messages"
        " WHERE status IS NOT NULL AND status_us IS NOT NULL ORDER BY status_us, id"
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION message_events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'message_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER message_events_no_update BEFORE UPDATE ON message_events"
            " FOR EACH ROW EXECUTE FUNCTION message_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER message_events_no_update BEFORE UPDATE ON message_events"
            " BEGIN SELECT RAISE(ABORT, 'message_events is append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("message_events")  # its trigger goes with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS message_events_append_only()")
    op.drop_column("channel_messages", "started_us")
