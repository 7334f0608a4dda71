"""Permalinks: where a published post can be seen, kept with the post and in its post.published event.

Instagram's permalink is not derivable from the media id: the publisher asks the Graph API for it
after media_publish and stores it. Facebook's is derived from the PAGEID_POSTID feed id; rows
published before this revision get theirs here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from postsched.migrations.sql import load

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("permalink", sa.Text))
    op.execute(
        """UPDATE posts p SET permalink = 'https://www.facebook.com/' || split_part(p.platform_post_id, '_', 1)
                                          || '/posts/' || split_part(p.platform_post_id, '_', 2)
           FROM accounts a
           WHERE a.id = p.account_id AND a.platform = 'facebook_page' AND p.status = 'PUBLISHED'
             AND p.platform_post_id LIKE '%\\_%'"""
    )
    # The post.published event carries the permalink the post had when it was published.
    op.execute(load("0007_record_events.sql"))


def downgrade() -> None:
    op.execute(load("0006_record_events.sql"))
    op.drop_column("posts", "permalink")
