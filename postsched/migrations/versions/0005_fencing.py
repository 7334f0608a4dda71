"""Fencing and lost-message detection.

posts.attempt_epoch: bumped by every claim and every take-over of a publish attempt; every write an
attempt makes (checkpoint, lease renewal, outcome) must match it, so an attempt that wakes after a
rescuer took it over can change nothing.
posts.stream_seq: the JetStream sequence of the current generation's message, recorded at
hand-over, so a message that vanished from the stream (lost after its ack, purged, stream
recreated) is noticed and the post handed over again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("attempt_epoch", sa.BigInteger, nullable=False, server_default="0"))
    op.add_column("posts", sa.Column("stream_seq", sa.BigInteger))
    # The lost-message check reads handed-over QUEUED posts in hand-over order.
    op.create_index("posts_handed_over", "posts", ["handed_over_at"],
                    postgresql_where=sa.text("status = 'QUEUED' AND handed_over_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("posts_handed_over", "posts")
    op.drop_column("posts", "stream_seq")
    op.drop_column("posts", "attempt_epoch")
