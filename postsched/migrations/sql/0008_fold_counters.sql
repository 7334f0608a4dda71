CREATE OR REPLACE FUNCTION postsched_fold_counters() RETURNS bigint LANGUAGE sql AS $$
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
