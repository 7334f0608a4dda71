"""Permalinks: where a published post can be seen, kept with the post and in its post.published event.

Instagram's permalink is not derivable from the media id: the publisher asks the Graph API for it
after media_publish and stores it. Facebook's is derived from the PAGEID_POSTID feed id; rows
published before this revision get theirs here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

EVENT_DATA_0006 = "'platform_post_id', p.platform_post_id)"
EVENT_DATA_0007 = "'platform_post_id', p.platform_post_id, 'permalink', p.permalink)"


def _record_events_0006() -> str:
    """The event trigger function of revision 0006 (its module name starts with a digit)."""
    spec = importlib.util.spec_from_file_location("postsched_migration_0006", Path(__file__).with_name("0006_events.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.RECORD_EVENTS.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    assert EVENT_DATA_0006 in text
    return text


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
    op.execute(_record_events_0006().replace(EVENT_DATA_0006, EVENT_DATA_0007))


def downgrade() -> None:
    op.execute(_record_events_0006())
    op.drop_column("posts", "permalink")
