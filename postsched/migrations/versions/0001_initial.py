"""Initial schema: tenants, accounts, posts, processing_logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)
POST_STATUS = postgresql.ENUM(name="post_status", create_type=False)
PLATFORM = postgresql.ENUM(name="account_platform", create_type=False)


def upgrade() -> None:
    op.execute(
        "CREATE TYPE post_status AS ENUM "
        "('SCHEDULED', 'QUEUED', 'PUBLISHING', 'PUBLISHED', 'FAILED', 'CANCELLED')"
    )
    op.execute("CREATE TYPE account_platform AS ENUM ('facebook_page', 'instagram', 'webhook')")
    op.create_table(
        "tenants",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "accounts",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("platform", PLATFORM, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        sa.Column("credentials", sa.LargeBinary, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("needs_credentials", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "platform", "external_id", name="accounts_tenant_platform_external_key"),
    )
    op.create_index("accounts_tenant_created", "accounts", ["tenant_id", "created_at", "id"])
    op.create_table(
        "posts",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("account_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("status", POST_STATUS, nullable=False, server_default="SCHEDULED"),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("media_urls", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("link", sa.Text, nullable=False, server_default=""),
        sa.Column("scheduled_at", TS, nullable=False),
        sa.Column("published_at", TS),
        sa.Column("platform_post_id", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("dispatch_generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires_at", TS),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("trace_context", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("posts_due", "posts", ["scheduled_at"], postgresql_where=sa.text("status = 'SCHEDULED'"))
    op.create_index("posts_leased", "posts", ["lease_expires_at"], postgresql_where=sa.text("status = 'QUEUED'"))
    op.create_index("posts_tenant_schedule", "posts", ["tenant_id", "scheduled_at", "id"])
    op.create_index("posts_account_schedule", "posts", ["account_id", "scheduled_at", "id"])
    op.create_index(
        "posts_idempotency",
        "posts",
        ["tenant_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_table(
        "processing_logs",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("post_id", postgresql.UUID(as_uuid=True)),
        sa.Column("tenant_id", sa.Text),
        sa.Column("account_id", postgresql.UUID(as_uuid=True)),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("from_status", POST_STATUS),
        sa.Column("to_status", POST_STATUS),
        sa.Column("attempt", sa.Integer),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("trace_id", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("processing_logs_post", "processing_logs", ["post_id", "id"])
    op.create_index("processing_logs_account", "processing_logs", ["account_id", "id"])
    op.create_index("processing_logs_created", "processing_logs", ["created_at"])


def downgrade() -> None:
    op.drop_table("processing_logs")
    op.drop_table("posts")
    op.drop_table("accounts")
    op.drop_table("tenants")
    op.execute("DROP TYPE account_platform")
    op.execute("DROP TYPE post_status")
