"""Dispatch: hand-over time, and a NOTIFY when posts become due-able.

posts.handed_over_at records when JetStream acknowledged a post's message (lateness is measured
from it). A statement-level trigger sends NOTIFY postsched_due with the earliest scheduled_at (epoch
seconds) whenever a statement leaves posts SCHEDULED, so dispatchers lease a post created or
rescheduled between two ticks at once instead of up to a minute late. Putting it in the database
covers every path that makes a post SCHEDULED (create, reschedule, retry, rescue, release).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postsched.migrations.sql import load

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("handed_over_at", postgresql.TIMESTAMP(timezone=True)))
    op.execute(load("0002_notify_due.sql"))
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER posts_notify_due_{event.lower()} AFTER {event} ON posts "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION postsched_notify_due()"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER posts_notify_due_insert ON posts")
    op.execute("DROP TRIGGER posts_notify_due_update ON posts")
    op.execute("DROP FUNCTION postsched_notify_due()")
    op.drop_column("posts", "handed_over_at")
