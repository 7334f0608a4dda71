"""Post events, and the tenant's own hold on an account (accounts.disabled).

Post events: one row per fact a calling backend cares about, numbered per tenant.

Written by a statement-level trigger on processing_logs, so every path that records a transition
(the hot CTEs of the dispatcher and publisher included) emits its event in the same transaction:
nothing for a change that rolled back, nothing missed for one that committed. The per-tenant
counter row is locked (in tenant order) until commit, so a tenant's events commit in sequence
order and a reader that has seen sequence N never later finds an N-1 it missed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postsched.migrations.sql import load

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    # The tenant's own hold on an account (DisableAccount), apart from the operators' `paused`.
    op.add_column("accounts", sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.text("false")))
    # DeleteAccount keeps the row (its posts and their history stay, cancelled) but frees its
    # (platform, external_id) for a new account: uniqueness holds among live accounts only.
    op.add_column("accounts", sa.Column("deleted_at", TS))
    op.drop_constraint("accounts_tenant_platform_external_key", "accounts", type_="unique")
    op.create_index("accounts_tenant_platform_external_key", "accounts", ["tenant_id", "platform", "external_id"],
                    unique=True, postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_table(
        "event_sequences",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "events",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("post_id", postgresql.UUID(as_uuid=True)),
        sa.Column("account_id", postgresql.UUID(as_uuid=True)),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("data", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.create_index("events_occurred", "events", ["occurred_at"])
    # A tenant's event callback: where, the secret (sealed like account credentials), and how far
    # delivery has come; the head event's retry state lives here too (delivery is in order).
    op.create_table(
        "event_webhooks",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("delivered", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("head_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("head_first_attempt_at", TS),
        sa.Column("next_attempt_at", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),  # delivered, retrying, given_up
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("event_deliveries_tenant", "event_deliveries", ["tenant_id", "id"])
    # How far the dispatcher's relay has published each tenant's events to NATS.
    op.create_table(
        "event_relay",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("relayed", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute(load("0006_event_type.sql"))
    op.execute(load("0006_record_events.sql"))
    op.execute(
        "CREATE TRIGGER processing_logs_events AFTER INSERT ON processing_logs "
        "REFERENCING NEW TABLE AS new_logs FOR EACH STATEMENT EXECUTE FUNCTION postsched_record_events()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER processing_logs_events ON processing_logs")
    op.execute("DROP FUNCTION postsched_record_events()")
    op.execute("DROP FUNCTION postsched_event_type(text, post_status)")
    op.drop_table("event_relay")
    op.drop_index("event_deliveries_tenant", "event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_table("event_webhooks")
    op.drop_index("events_occurred", "events")
    op.drop_table("events")
    op.drop_table("event_sequences")
    op.drop_index("accounts_tenant_platform_external_key", "accounts")
    op.create_unique_constraint("accounts_tenant_platform_external_key", "accounts", ["tenant_id", "platform", "external_id"])
    op.drop_column("accounts", "deleted_at")
    op.drop_column("accounts", "disabled")
