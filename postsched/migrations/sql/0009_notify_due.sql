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
