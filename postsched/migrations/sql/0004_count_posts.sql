CREATE OR REPLACE FUNCTION postsched_count_posts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO post_counts (account_id, status, n)
        SELECT account_id, status, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (account_id, status) DO UPDATE SET n = post_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO post_counts (account_id, status, n)
        SELECT account_id, status, -count(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (account_id, status) DO UPDATE SET n = post_counts.n + EXCLUDED.n;
    ELSE
        INSERT INTO post_counts (account_id, status, n)
        SELECT account_id, status, sum(d) FROM (
            SELECT o.account_id, o.status, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.status <> o.status
            UNION ALL
            SELECT n.account_id, n.status, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.status <> o.status
        ) changes
        GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
        ON CONFLICT (account_id, status) DO UPDATE SET n = post_counts.n + EXCLUDED.n;
        INSERT INTO post_outcomes (minute, account_id, published, failed)
        SELECT date_trunc('minute', now()), n.account_id,
               count(*) FILTER (WHERE n.status = 'PUBLISHED'), count(*) FILTER (WHERE n.status = 'FAILED')
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.status <> o.status AND n.status IN ('PUBLISHED', 'FAILED')
        GROUP BY 2 ORDER BY 2
        ON CONFLICT (minute, account_id) DO UPDATE
        SET published = post_outcomes.published + EXCLUDED.published, failed = post_outcomes.failed + EXCLUDED.failed;
    END IF;
    RETURN NULL;
END
$$
