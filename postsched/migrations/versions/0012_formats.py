"""Every format, within Meta's quotas, with accounts that warn before they break (issue 25).

- posts.kind (FEED, REEL, STORY) and posts.reel (a Reel's options, JSON); recurring_posts too,
  with first_comment: their occurrences take them.
- posts.first_comment and its own step: first_comment_status (NULL: none; PENDING, PUBLISHED,
  FAILED), first_comment_id, first_comment_error, first_comment_attempts, and
  first_comment_due_at (the next try, or the end of the lease of the try under way). The
  first-comments duty reads PUBLISHED posts whose comment is PENDING and due.
- posts.media_checked_at: the media pre-flight duty looked at the post's media URLs.
- accounts.credentials_status (OK, EXPIRING, INVALID; NULL: never checked), credentials_expire_at,
  credentials_checked_at, credentials_problem, credentials_warned_at (account.credentials_expiring
  is said once per expiry).
- publishing_quotas: a rolling-window cap per account (Instagram's content_publishing_limit,
  Facebook Page Reels' 30 a day). A publish reserves a place with a conditional UPDATE (used <
  total), so publishers on several machines never publish past it.
- event types: post.first_comment_published, post.first_comment_failed, post.media_unreachable,
  account.credentials_expiring.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postsched.migrations.sql import load

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)
# The media pre-flight reads SCHEDULED posts with media it has not checked, in due order.
MEDIA_UNCHECKED = ("status = 'SCHEDULED' AND media_checked_at IS NULL"
                   " AND (cardinality(media_urls) > 0 OR reel ->> 'cover_url' IS NOT NULL)")
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.add_column("posts", sa.Column("kind", sa.Text, nullable=False, server_default="FEED"))
    for table in ("recurring_posts",):  # a recurring post's occurrences take its kind and first comment
        op.add_column(table, sa.Column("kind", sa.Text, nullable=False, server_default="FEED"))
        op.add_column(table, sa.Column("reel", postgresql.JSONB))
        op.add_column(table, sa.Column("first_comment", sa.Text))
    op.add_column("posts", sa.Column("reel", postgresql.JSONB))
    op.add_column("posts", sa.Column("first_comment", sa.Text))
    op.add_column("posts", sa.Column("first_comment_status", sa.Text))
    op.add_column("posts", sa.Column("first_comment_id", sa.Text))
    op.add_column("posts", sa.Column("first_comment_error", sa.Text))
    op.add_column("posts", sa.Column("first_comment_attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("posts", sa.Column("first_comment_due_at", TS))
    op.add_column("posts", sa.Column("media_checked_at", TS))
    op.create_index("posts_media_unchecked", "posts", [sa.text("greatest(scheduled_at, not_before)")],
                    postgresql_where=sa.text(MEDIA_UNCHECKED))
    op.create_index("posts_first_comment_due", "posts", ["first_comment_due_at"],
                    postgresql_where=sa.text("first_comment_status = 'PENDING' AND status = 'PUBLISHED'"))
    op.add_column("accounts", sa.Column("credentials_status", sa.Text))
    op.add_column("accounts", sa.Column("credentials_expire_at", TS))
    op.add_column("accounts", sa.Column("credentials_checked_at", TS))
    op.add_column("accounts", sa.Column("credentials_problem", sa.Text))
    op.add_column("accounts", sa.Column("credentials_warned_at", TS))
    op.create_table(
        "publishing_quotas",
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("window_seconds", sa.Integer, nullable=False),
        sa.Column("read_at", TS),
        sa.Column("frees_at", TS),
        sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reserved_until", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.execute(load("0012_event_type.sql"))


def downgrade() -> None:
    op.execute(load("0011_event_type.sql"))
    op.drop_table("publishing_quotas")
    for column in ("credentials_warned_at", "credentials_problem", "credentials_checked_at", "credentials_expire_at",
                   "credentials_status"):
        op.drop_column("accounts", column)
    for column in ("first_comment", "reel", "kind"):
        op.drop_column("recurring_posts", column)
    op.drop_index("posts_first_comment_due", "posts")
    op.drop_index("posts_media_unchecked", "posts")
    for column in ("media_checked_at", "first_comment_due_at", "first_comment_attempts", "first_comment_error",
                   "first_comment_id", "first_comment_status", "first_comment", "reel", "kind"):
        op.drop_column("posts", column)
