CREATE OR REPLACE FUNCTION postsched_event_type(event text, to_status post_status) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN to_status = 'PUBLISHED' THEN 'post.published'
        WHEN to_status = 'FAILED' THEN 'post.failed'
        WHEN event = 'cancelled' THEN 'post.cancelled'
        WHEN event = 'skipped' THEN 'post.skipped'
        WHEN event = 'rescheduled' THEN 'post.rescheduled'
        WHEN event = 'retried' THEN 'post.retried'
        WHEN event = 'rate_limited' THEN 'post.waiting'
        WHEN event = 'paced' THEN 'post.waiting'
        WHEN event = 'needs_credentials' THEN 'account.needs_credentials'
        WHEN event = 'credentials_updated' THEN 'account.credentials_updated'
        WHEN event = 'recurring_post_ended' THEN 'recurring_post.ended'
        WHEN event = 'first_comment_published' THEN 'post.first_comment_published'
        WHEN event = 'first_comment_failed' THEN 'post.first_comment_failed'
        WHEN event = 'media_unreachable' THEN 'post.media_unreachable'
        WHEN event = 'credentials_expiring' THEN 'account.credentials_expiring'
    END
$$
