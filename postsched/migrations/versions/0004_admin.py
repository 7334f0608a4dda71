"""Admin: counters kept by triggers, so queue stats stay cheap at millions of posts.

post_counts holds the number of posts per (account, status); post_outcomes the number published
and failed per (minute, account). Statement-level triggers with transition tables keep both up to
date in the same transaction as the change, one upsert per (account, status) per statement. Rows
are upserted in key order so concurrent statements take their row locks in the same order.
Also: partial indexes for overdue in-flight posts, failed posts and old published posts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postsched.migrations.sql import load

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_counts",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("status", postgresql.ENUM(name="post_status", create_type=False), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "post_outcomes",
        sa.Column("minute", postgresql.TIMESTAMP(timezone=True), primary_key=True),
        sa.Column("account_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("published", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failed", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute(load("0004_count_posts.sql"))
    op.execute(
        "CREATE TRIGGER posts_count_insert AFTER INSERT ON posts REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION postsched_count_posts()"
    )
    op.execute(
        "CREATE TRIGGER posts_count_update AFTER UPDATE ON posts REFERENCING OLD TABLE AS old_rows "
        "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION postsched_count_posts()"
    )
    op.execute(
        "CREATE TRIGGER posts_count_delete AFTER DELETE ON posts REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION postsched_count_posts()"
    )
    op.execute("INSERT INTO post_counts (account_id, status, n) SELECT account_id, status, count(*) FROM posts GROUP BY 1, 2")
    op.create_index("posts_in_flight", "posts", ["scheduled_at"],
                    postgresql_where=sa.text("status IN ('QUEUED', 'PUBLISHING')"))
    op.create_index("posts_failed", "posts", ["updated_at", "id"], postgresql_where=sa.text("status = 'FAILED'"))
    op.create_index("posts_published", "posts", ["published_at"], postgresql_where=sa.text("status = 'PUBLISHED'"))


def downgrade() -> None:
    op.drop_index("posts_published", "posts")
    op.drop_index("posts_failed", "posts")
    op.drop_index("posts_in_flight", "posts")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER posts_count_{event} ON posts")
    op.execute("DROP FUNCTION postsched_count_posts()")
    op.drop_table("post_outcomes")
    op.drop_table("post_counts")
