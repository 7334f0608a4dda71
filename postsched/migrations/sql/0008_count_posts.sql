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
