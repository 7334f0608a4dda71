"""Tenant isolation: deferred posts, leases for event delivery and relay, and an events feed.

- posts.not_before: a publisher that already holds as many posts of an account as it can work on
  gives the rest back (QUEUED -> SCHEDULED) with a time before which no dispatcher hands them over
  again, spread at the pace the account's calls finish. The tenant's scheduled_at stays as asked.
  The lease clears it. Leasing reads the due index by greatest(scheduled_at, not_before).
- event_webhooks / event_relay lease columns: a deliverer or relay claims a tenant in one short
  transaction and records what happened in another; nothing waits on the network while a
  transaction is open, and tenants are delivered side by side.
- NOTIFY postsched_events with the tenant id, from the events trigger: a scheduler serves every
  WatchEvents stream of a tenant from one query when the tenant has something new, instead of each
  stream polling.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postsched.migrations.sql import load

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.add_column("posts", sa.Column("not_before", TS))
    op.drop_index("posts_due", "posts")
    op.create_index("posts_due", "posts", [sa.text("greatest(scheduled_at, not_before)")],
                    postgresql_where=sa.text("status = 'SCHEDULED'"))
    op.execute(load("0009_notify_due.sql"))
    for table in ("event_webhooks", "event_relay"):
        op.add_column(table, sa.Column("lease_owner", sa.Text))
        op.add_column(table, sa.Column("lease_expires_at", TS))
    op.execute(load("0009_record_events.sql"))


def downgrade() -> None:
    op.execute(load("0007_record_events.sql"))
    for table in ("event_webhooks", "event_relay"):
        op.drop_column(table, "lease_expires_at")
        op.drop_column(table, "lease_owner")
    op.execute(load("0002_notify_due.sql"))
    op.drop_index("posts_due", "posts")
    op.create_index("posts_due", "posts", ["scheduled_at"], postgresql_where=sa.text("status = 'SCHEDULED'"))
    op.drop_column("posts", "not_before")
