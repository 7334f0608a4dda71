"""Publishing: claim time, per-attempt platform state, and account throttling.

posts.claimed_at: when the current attempt started (reconciliation looks for the post on the
platform from then on). posts.platform_state: what an attempt learned before its outcome was known
(an Instagram container id), so a crash can be reconciled instead of published blindly again.
accounts.throttled_until / throttle_reason: the platform said "not before then" for this account;
the dispatcher does not lease its posts until then.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("claimed_at", postgresql.TIMESTAMP(timezone=True)))
    op.add_column("posts", sa.Column("platform_state", postgresql.JSONB))
    op.add_column("accounts", sa.Column("throttled_until", postgresql.TIMESTAMP(timezone=True)))
    op.add_column("accounts", sa.Column("throttle_reason", sa.Text))
    # The publishing rescuer looks for attempts whose publisher went away.
    op.create_index("posts_publishing", "posts", ["lease_expires_at"], postgresql_where=sa.text("status = 'PUBLISHING'"))


def downgrade() -> None:
    op.drop_index("posts_publishing", "posts")
    op.drop_column("accounts", "throttle_reason")
    op.drop_column("accounts", "throttled_until")
    op.drop_column("posts", "platform_state")
    op.drop_column("posts", "claimed_at")
