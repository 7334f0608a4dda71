"""Posts on a rhythm: account time zones and spacing, recurring posts, posting schedules.

- accounts.time_zone (IANA name, checked against the tzdata package by the API) and
  accounts.min_post_interval: no two posts of the account reach the platform closer than that.
  accounts.next_post_at: the earliest a paced account's next post may go (set by each claim).
- posts.recurring_post_id, occurrence_version, occurrence_time: an occurrence of a recurring post,
  unique per (recurring post, version of its rule, instant) so dispatchers racing the horizon duty
  create each once. A new rule, a pause or a resume bumps the version (the SCHEDULED occurrences
  of the old one are cancelled first).
- posts.slotted: put into a posting-schedule slot by EnqueuePost; one live post per (account, slot
  instant) by a unique index, so concurrent EnqueuePost calls never share a slot. Cancelling or
  rescheduling frees the slot (slotted = false / CANCELLED).
- posts.slot_after: the time EnqueuePost was asked to fill a slot after, kept for a reshuffle.
- posts_account_scheduled: an account's SCHEDULED posts in order, for a paced account's next post
  (SCHEDULED only: one index entry per post, not one per state it passes through).
- events carry due_at: post.waiting's waiting_until for posts held by min_post_interval.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postsched.migrations.sql import load

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)
UUID = postgresql.UUID(as_uuid=True)
LIVE = "status IN ('SCHEDULED', 'QUEUED', 'PUBLISHING')"


def upgrade() -> None:
    op.add_column("accounts", sa.Column("time_zone", sa.Text, nullable=False, server_default="UTC"))
    op.add_column("accounts", sa.Column("min_post_interval", sa.Interval, nullable=False, server_default=sa.text("'0'::interval")))
    op.add_column("accounts", sa.Column("next_post_at", TS))
    op.create_index("accounts_paced", "accounts", ["id"],
                    postgresql_where=sa.text("min_post_interval > '0'::interval AND deleted_at IS NULL"))
    op.create_table(
        "recurring_posts",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("media_urls", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("link", sa.Text, nullable=False, server_default=""),
        sa.Column("start_time", postgresql.TIMESTAMP(timezone=False), nullable=False),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("recurrence", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="ACTIVE"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_through", TS, nullable=False),
        sa.Column("occurrences_created", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("trace_context", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("recurring_posts_tenant_created", "recurring_posts", ["tenant_id", "created_at", "id"])
    op.create_index("recurring_posts_account", "recurring_posts", ["account_id"])
    op.create_index("recurring_posts_active", "recurring_posts", ["created_through"],
                    postgresql_where=sa.text("state = 'ACTIVE'"))
    op.create_index("recurring_posts_idempotency", "recurring_posts", ["tenant_id", "idempotency_key"], unique=True,
                    postgresql_where=sa.text("idempotency_key IS NOT NULL"))
    op.add_column("posts", sa.Column("recurring_post_id", UUID))
    op.add_column("posts", sa.Column("occurrence_version", sa.Integer))
    op.add_column("posts", sa.Column("occurrence_time", TS))
    op.add_column("posts", sa.Column("slotted", sa.Boolean, nullable=False, server_default=sa.text("false")))
    op.add_column("posts", sa.Column("slot_after", TS))
    op.create_index("posts_occurrence", "posts", ["recurring_post_id", "occurrence_version", "occurrence_time"],
                    unique=True, postgresql_where=sa.text("recurring_post_id IS NOT NULL"))
    op.create_index("posts_slot", "posts", ["account_id", "scheduled_at"], unique=True,
                    postgresql_where=sa.text(f"slotted AND {LIVE}"))
    op.create_index("posts_account_scheduled", "posts", ["account_id", "scheduled_at", "id"],
                    postgresql_where=sa.text("status = 'SCHEDULED'"))
    op.create_table(
        "posting_schedules",
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("time_zone", sa.Text, nullable=False),
        # [[iso weekday, "HH:MM"], ...] in the order given
        sa.Column("slots", postgresql.JSONB, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.execute(load("0011_event_type.sql"))
    op.execute(load("0011_record_events.sql"))


def downgrade() -> None:
    op.execute(load("0009_record_events.sql"))
    op.execute(load("0006_event_type.sql"))
    op.drop_table("posting_schedules")
    for index in ("posts_account_scheduled", "posts_slot", "posts_occurrence"):
        op.drop_index(index, "posts")
    for column in ("slot_after", "slotted", "occurrence_time", "occurrence_version", "recurring_post_id"):
        op.drop_column("posts", column)
    op.drop_table("recurring_posts")
    op.drop_index("accounts_paced", "accounts")
    for column in ("next_post_at", "min_post_interval", "time_zone"):
        op.drop_column("accounts", column)
