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
                   'platform_post_id', p.platform_post_id, 'permalink', p.permalink,
                   'due_at', greatest(p.scheduled_at, p.not_before)) END
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
