"""Named operators and the dashboard's server-side sessions.

- processing_logs.actor: the operator who made the change (retry, pause, resume, clear), from the
  name their token is configured under; NULL for what the services do by themselves.
- dashboard_sessions: one row per dashboard sign-in, keyed by the SHA-256 of a random id (the
  cookie holds the id; the table never does). token_digest is the digest of the operator token
  signed in with: a session is valid only while that token is still configured, so changing or
  removing an operator's token signs out all of their sessions. Sign out sets revoked_at.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.add_column("processing_logs", sa.Column("actor", sa.Text))
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_digest", sa.LargeBinary, primary_key=True),
        sa.Column("operator", sa.Text, nullable=False),
        sa.Column("token_digest", sa.LargeBinary, nullable=False),
        sa.Column("client", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
    )
    op.create_index("dashboard_sessions_expires", "dashboard_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
    op.drop_column("processing_logs", "actor")
