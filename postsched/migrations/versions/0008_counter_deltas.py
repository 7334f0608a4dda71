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

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)

COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION postsched_count_posts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO post_count_deltas (account_id, status, n)
        SELECT account_id, status, count(*) FROM new_rows GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO post_count_deltas (account_id, status, n)
        SELECT account_id, status, -count(*) FROM old_rows GROUP BY 1, 2;
    ELSE
        -- One join of the transition tables serves both counters (a statement that changes no
        -- status, like a hand-over record or a lease renewal, then inserts nothing).
        WITH changed AS (
            SELECT n.account_id, o.status AS from_status, n.status AS to_status
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.status <> o.status
        ), counts AS (
            INSERT INTO post_count_deltas (account_id, status, n)
            SELECT account_id, status, sum(d) FROM (
                SELECT account_id, from_status AS status, -1 AS d FROM changed
                UNION ALL
                SELECT account_id, to_status, 1 FROM changed
            ) changes
            GROUP BY 1, 2 HAVING sum(d) <> 0
        )
        INSERT INTO post_outcome_deltas (minute, account_id, published, failed)
        SELECT date_trunc('minute', now()), account_id,
               count(*) FILTER (WHERE to_status = 'PUBLISHED'), count(*) FILTER (WHERE to_status = 'FAILED')
        FROM changed WHERE to_status IN ('PUBLISHED', 'FAILED')
        GROUP BY 2;
    END IF;
    RETURN NULL;
END
$$
"""

# Two folds at once each take the rows the other has not deleted: a delta is folded exactly once.
# Upserted in key order, so two folds never wait on each other's counter rows in a cycle.
FOLD_FUNCTION = """
CREATE FUNCTION postsched_fold_counters() RETURNS bigint LANGUAGE sql AS $$
    WITH d AS (
        DELETE FROM post_count_deltas RETURNING account_id, status, n
    ), counts AS (
        INSERT INTO post_counts (account_id, status, n)
        SELECT account_id, status, sum(n) FROM d GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (account_id, status) DO UPDATE SET n = post_counts.n + EXCLUDED.n
        RETURNING 1
    ), o AS (
        DELETE FROM post_outcome_deltas RETURNING minute, account_id, published, failed
    ), outcomes AS (
        INSERT INTO post_outcomes (minute, account_id, published, failed)
        SELECT minute, account_id, sum(published), sum(failed) FROM o GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (minute, account_id) DO UPDATE
        SET published = post_outcomes.published + EXCLUDED.published, failed = post_outcomes.failed + EXCLUDED.failed
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM counts) + (SELECT count(*) FROM outcomes)
$$
"""


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
    op.execute(COUNT_FUNCTION)
    op.execute(FOLD_FUNCTION)


def downgrade() -> None:
    op.execute("SELECT postsched_fold_counters()")
    op.execute("DROP FUNCTION postsched_fold_counters()")
    op.drop_table("post_outcome_deltas")
    op.drop_table("post_count_deltas")
    # Revision 0004's function, which upserts the counters directly.
    op.execute(_count_function_0004())


def _count_function_0004() -> str:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("postsched_migration_0004", Path(__file__).with_name("0004_admin.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.COUNT_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
