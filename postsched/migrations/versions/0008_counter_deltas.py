"""Counters by deltas: the posts trigger appends changes instead of updating a few hot rows.

Revision 0004's trigger upserted post_counts (per account and status) and post_outcomes (per
minute and account) in every statement that changed a post's status: in a burst the dispatcher's
leases, the publishers' claims and their outcome records all updated the same few dozen rows,
each update a new row version of a row whose older versions could not be pruned yet, under a row
lock held until commit. Now the trigger appends its deltas to two tables without indexes or keys
(no lock taken, nothing to wait for), and `postsched_fold_counters()` folds them into the two
counter tables in one transaction; the dispatchers and the admin service call it every second.
Readers add the deltas not folded yet, so a count is exact at any moment, whether or not anything
folds.

Measured with `bench/end_to_end.py` (20,000 posts due at once, 3 runs each, alternating, one
sitting): PostgreSQL's CPU per post 514 -> 400 µs (medians).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postsched.migrations.sql import load

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "post_count_deltas",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", postgresql.ENUM(name="post_status", create_type=False), nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "post_outcome_deltas",
        sa.Column("minute", TS, nullable=False),
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("published", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
    )
    op.execute(load("0008_count_posts.sql"))
    op.execute(load("0008_fold_counters.sql"))


def downgrade() -> None:
    op.execute("SELECT postsched_fold_counters()")
    op.execute("DROP FUNCTION postsched_fold_counters()")
    op.drop_table("post_outcome_deltas")
    op.drop_table("post_count_deltas")
    # Revision 0004's function, which upserts the counters directly.
    op.execute(load("0004_count_posts.sql"))

