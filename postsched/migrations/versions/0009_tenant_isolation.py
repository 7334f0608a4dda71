"""Tenant isolation: deferred posts, leases for event delivery and relay, and an events feed.

- posts.not_before: a publisher that already holds as many posts of an account as it can work on
  gives the rest back (QUEUED -> SCHEDULED) with a time before which no dispatcher hands them over
  again, spread at the pace the account's calls finish. The tenant's scheduled_at stays as asked.
  The lease clears it. Leasing reads the due index by greatest(scheduled_at, not_before).
- event_webhooks / event_relay lease columns: a deliverer or relay claims a tenant in one short
  transaction and records what happened in another; nothing waits on the network while a
  transaction is open, and tenants are delivered side by side.
- NOTIFY postsched_events with the tenant id, from the events trigger: a scheduler serves every
  WatchEvents stream of a tenant from one query when the tenant has something new, instead of each
  stream polling.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)

NOTIFY_DUE = """
CREATE OR REPLACE FUNCTION postsched_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    earliest timestamptz;
BEGIN
    SELECT min(greatest(scheduled_at, not_before)) INTO earliest FROM new_rows WHERE status = 'SCHEDULED';
    IF earliest IS NOT NULL THEN
        PERFORM pg_notify('postsched_due', extract(epoch FROM earliest)::text);
    END IF;
    RETURN NULL;
END
$$
"""

NOTIFY_DUE_0002 = NOTIFY_DUE.replace("greatest(scheduled_at, not_before)", "scheduled_at")

RECORD_EVENTS = """
CREATE OR REPLACE FUNCTION postsched_record_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_logs
                   WHERE tenant_id IS NOT NULL AND postsched_event_type(event, to_status) IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    INSERT INTO event_sequences (tenant_id)
    SELECT DISTINCT tenant_id FROM new_logs
    WHERE tenant_id IS NOT NULL AND postsched_event_type(event, to_status) IS NOT NULL
    ON CONFLICT DO NOTHING;
    -- In tenant order, so two transactions never wait on each other's counters in a cycle.
    PERFORM 1 FROM event_sequences
    WHERE tenant_id IN (SELECT tenant_id FROM new_logs WHERE postsched_event_type(event, to_status) IS NOT NULL)
    ORDER BY tenant_id FOR UPDATE;
    WITH facts AS (
        SELECT l.*, postsched_event_type(l.event, l.to_status) AS type,
               row_number() OVER (PARTITION BY l.tenant_id ORDER BY l.id) AS n
        FROM new_logs l
        WHERE l.tenant_id IS NOT NULL AND postsched_event_type(l.event, l.to_status) IS NOT NULL
    ), inserted AS (
        INSERT INTO events (tenant_id, sequence, event_id, type, post_id, account_id, occurred_at, message, data)
        SELECT f.tenant_id, s.last + f.n, gen_random_uuid(), f.type, f.post_id, f.account_id, f.created_at,
               f.message,
               CASE WHEN p.id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(
                   'status', p.status, 'attempts', p.attempts, 'scheduled_at', p.scheduled_at,
                   'platform_post_id', p.platform_post_id, 'permalink', p.permalink) END
        FROM facts f
        JOIN event_sequences s ON s.tenant_id = f.tenant_id
        LEFT JOIN posts p ON p.id = f.post_id
        RETURNING tenant_id, sequence
    )
    UPDATE event_sequences s SET last = m.top
    FROM (SELECT tenant_id, max(sequence) AS top FROM inserted GROUP BY tenant_id) m
    WHERE s.tenant_id = m.tenant_id;
    -- Delivered at commit, once per tenant and transaction (PostgreSQL folds repeats).
    PERFORM pg_notify('postsched_events', t.tenant_id)
    FROM (SELECT DISTINCT tenant_id FROM new_logs
          WHERE tenant_id IS NOT NULL AND postsched_event_type(event, to_status) IS NOT NULL) t;
    RETURN NULL;
END
$$
"""


def _record_events_0007() -> str:
    spec = importlib.util.spec_from_file_location("postsched_migration_0007", Path(__file__).with_name("0007_permalinks.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._record_events_0006().replace(module.EVENT_DATA_0006, module.EVENT_DATA_0007)


def upgrade() -> None:
    op.add_column("posts", sa.Column("not_before", TS))
    op.drop_index("posts_due", "posts")
    op.create_index("posts_due", "posts", [sa.text("greatest(scheduled_at, not_before)")],
                    postgresql_where=sa.text("status = 'SCHEDULED'"))
    op.execute(NOTIFY_DUE)
    for table in ("event_webhooks", "event_relay"):
        op.add_column(table, sa.Column("lease_owner", sa.Text))
        op.add_column(table, sa.Column("lease_expires_at", TS))
    op.execute(RECORD_EVENTS)


def downgrade() -> None:
    op.execute(_record_events_0007())
    for table in ("event_webhooks", "event_relay"):
        op.drop_column(table, "lease_expires_at")
        op.drop_column(table, "lease_owner")
    op.execute(NOTIFY_DUE_0002)
    op.drop_index("posts_due", "posts")
    op.create_index("posts_due", "posts", ["scheduled_at"], postgresql_where=sa.text("status = 'SCHEDULED'"))
    op.drop_column("posts", "not_before")
