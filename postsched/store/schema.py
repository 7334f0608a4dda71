"""Tables, as SQLAlchemy Core metadata. Migrations create them; a test checks the two agree."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Identity,
    Index,
    Interval,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, ENUM, JSONB, TIMESTAMP, UUID

from postsched.lifecycle import PostStatus

metadata = MetaData()

# The post states, from their one home (postsched/lifecycle.py, which says who moves a post out of each).
POST_STATUSES = tuple(status.value for status in PostStatus)
post_status = ENUM(*POST_STATUSES, name="post_status", create_type=False)

PLATFORMS = ("facebook_page", "instagram", "webhook")
account_platform = ENUM(*PLATFORMS, name="account_platform", create_type=False)

Timestamp = TIMESTAMP(timezone=True)

tenants = Table(
    "tenants",
    metadata,
    Column("id", Text, primary_key=True),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("platform", account_platform, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("display_name", Text, nullable=False, server_default=""),
    # Fernet token (POSTSCHED_SECRET_KEY) of the JSON credentials; never leaves the store in clear.
    Column("credentials", LargeBinary, nullable=False),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("deleted_at", Timestamp),  # DeleteAccount: gone for the API, its posts cancelled
    Column("needs_credentials", Boolean, nullable=False, server_default=text("false")),
    # The platform said "not before then" (rate limit, publishing quota): posts wait until then.
    Column("throttled_until", Timestamp),
    Column("throttle_reason", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    # Migration 0011: the account's local time, and the spacing of its posts (next_post_at: the
    # earliest its next post may reach the platform, set by each claim of a paced account).
    Column("time_zone", Text, nullable=False, server_default="UTC"),
    Column("min_post_interval", Interval, nullable=False, server_default=text("'0'::interval")),
    Column("next_post_at", Timestamp),
    # Migration 0012: the credentials-health duty's findings (NULL status: never checked);
    # credentials_warned_at: account.credentials_expiring was said for this expiry.
    Column("credentials_status", Text),
    Column("credentials_expire_at", Timestamp),
    Column("credentials_checked_at", Timestamp),
    Column("credentials_problem", Text),
    Column("credentials_warned_at", Timestamp),
    Index("accounts_tenant_platform_external_key", "tenant_id", "platform", "external_id", unique=True,
          postgresql_where=text("deleted_at IS NULL")),
    Index("accounts_tenant_created", "tenant_id", "created_at", "id"),
    # The pacing duty reads only accounts with a min_post_interval.
    Index("accounts_paced", "id", postgresql_where=text("min_post_interval > '0'::interval AND deleted_at IS NULL")),
)

LIVE = "status IN ('SCHEDULED', 'QUEUED', 'PUBLISHING')"

posts = Table(
    "posts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    Column("status", post_status, nullable=False, server_default="SCHEDULED"),
    Column("text", Text, nullable=False, server_default=""),
    Column("media_urls", ARRAY(Text), nullable=False, server_default="{}"),
    Column("link", Text, nullable=False, server_default=""),
    Column("scheduled_at", Timestamp, nullable=False),
    # A publisher that gave the post back because its account had enough in flight: not handed
    # over again before then (migration 0009). Cleared by the lease; scheduled_at stays as asked.
    Column("not_before", Timestamp),
    Column("published_at", Timestamp),
    Column("platform_post_id", Text),
    # Where the published post can be seen (Instagram's comes from a Graph call after publishing).
    Column("permalink", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    # Bumped by every lease: a message carries it, and a claim must match it.
    Column("dispatch_generation", Integer, nullable=False, server_default="0"),
    Column("lease_owner", Text),
    Column("lease_expires_at", Timestamp),
    # When JetStream acknowledged this generation's message (the dispatcher's hand-over).
    Column("handed_over_at", Timestamp),
    # When the current publish attempt started, and what it learned before its outcome was known
    # (an Instagram container id), for reconciling after a crash.
    Column("claimed_at", Timestamp),
    Column("platform_state", JSONB),
    # Bumped by every claim and take-over; every write of an attempt must match it (fencing).
    Column("attempt_epoch", BigInteger, nullable=False, server_default="0"),
    # JetStream sequence of this generation's message: a message that vanished is noticed.
    Column("stream_seq", BigInteger),
    Column("idempotency_key", Text),
    # W3C traceparent of the CreatePost call, so dispatch and publish spans join its trace.
    Column("trace_context", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    # Migration 0011: an occurrence of a recurring post (unique per rule version and instant), and a
    # post put into a posting-schedule slot (one live post per account and slot).
    Column("recurring_post_id", UUID(as_uuid=True)),
    Column("occurrence_version", Integer),
    Column("occurrence_time", Timestamp),
    Column("slotted", Boolean, nullable=False, server_default=text("false")),
    Column("slot_after", Timestamp),  # EnqueuePost's not_before, kept for a reshuffle
    # Migration 0012: what the post is on its platform, and its first comment, a step of its own
    # (status NULL: no comment; PENDING, PUBLISHED, FAILED; due_at: the next try or the end of the
    # lease of the try under way). media_checked_at: the media pre-flight looked at its URLs.
    Column("kind", Text, nullable=False, server_default="FEED"),
    Column("reel", JSONB),
    Column("first_comment", Text),
    Column("first_comment_status", Text),
    Column("first_comment_id", Text),
    Column("first_comment_error", Text),
    Column("first_comment_attempts", Integer, nullable=False, server_default="0"),
    Column("first_comment_due_at", Timestamp),
    Column("media_checked_at", Timestamp),
    # Leasing reads only SCHEDULED rows in time order: a small partial index at any table size.
    Index("posts_due", text("greatest(scheduled_at, not_before)"), postgresql_where=text("status = 'SCHEDULED'")),
    # The rescuer looks for expired leases among QUEUED rows only.
    Index("posts_leased", "lease_expires_at", postgresql_where=text("status = 'QUEUED'")),
    # The publishing rescuer looks for attempts whose publisher went away.
    Index("posts_publishing", "lease_expires_at", postgresql_where=text("status = 'PUBLISHING'")),
    # The lost-message check reads handed-over QUEUED posts in hand-over order.
    Index("posts_handed_over", "handed_over_at",
          postgresql_where=text("status = 'QUEUED' AND handed_over_at IS NOT NULL")),
    # Admin: overdue posts in flight, failed posts newest first, published posts to clear.
    Index("posts_in_flight", "scheduled_at", postgresql_where=text("status IN ('QUEUED', 'PUBLISHING')")),
    Index("posts_failed", "updated_at", "id", postgresql_where=text("status = 'FAILED'")),
    Index("posts_published", "published_at", postgresql_where=text("status = 'PUBLISHED'")),
    Index("posts_tenant_schedule", "tenant_id", "scheduled_at", "id"),
    # The first-comments duty reads published posts whose comment is still to be made.
    Index("posts_first_comment_due", "first_comment_due_at",
          postgresql_where=text("first_comment_status = 'PENDING' AND status = 'PUBLISHED'")),
    # The media pre-flight reads SCHEDULED posts with media it has not checked, in due order.
    Index("posts_media_unchecked", text("greatest(scheduled_at, not_before)"),
          postgresql_where=text("status = 'SCHEDULED' AND media_checked_at IS NULL"
                                " AND (cardinality(media_urls) > 0 OR reel ->> 'cover_url' IS NOT NULL)")),
    Index("posts_account_schedule", "account_id", "scheduled_at", "id"),
    Index("posts_occurrence", "recurring_post_id", "occurrence_version", "occurrence_time", unique=True,
          postgresql_where=text("recurring_post_id IS NOT NULL")),
    Index("posts_slot", "account_id", "scheduled_at", unique=True, postgresql_where=text(f"slotted AND {LIVE}")),
    # A paced account's first SCHEDULED post (one entry per post: SCHEDULED only).
    Index("posts_account_scheduled", "account_id", "scheduled_at", "id", postgresql_where=text("status = 'SCHEDULED'")),
    Index(
        "posts_idempotency",
        "tenant_id",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
)

# The audit trail: every transition and every delivery attempt. No foreign key, so the log of a
# post outlives the post when old published posts are cleared.
processing_logs = Table(
    "processing_logs",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("post_id", UUID(as_uuid=True)),
    Column("tenant_id", Text),
    Column("account_id", UUID(as_uuid=True)),
    Column("event", Text, nullable=False),
    Column("from_status", post_status),
    Column("to_status", post_status),
    Column("attempt", Integer),
    Column("message", Text, nullable=False, server_default=""),
    Column("trace_id", Text),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
    Column("actor", Text),  # the operator who made the change (migration 0010)
    Index("processing_logs_post", "post_id", "id"),
    Index("processing_logs_account", "account_id", "id"),
    Index("processing_logs_created", "created_at"),
)

# Kept by triggers (migrations 0004, 0008): posts per (account, status), and outcomes per (minute,
# account), folded from the deltas below (postsched/store/counters.py).
post_counts = Table(
    "post_counts",
    metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("status", post_status, primary_key=True),
    Column("n", BigInteger, nullable=False, server_default="0"),
)

post_outcomes = Table(
    "post_outcomes",
    metadata,
    Column("minute", Timestamp, primary_key=True),
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("published", BigInteger, nullable=False, server_default="0"),
    Column("failed", BigInteger, nullable=False, server_default="0"),
)

# What the posts trigger appends; no keys or indexes, so no writer waits on another (migration 0008).
post_count_deltas = Table(
    "post_count_deltas",
    metadata,
    Column("account_id", UUID(as_uuid=True), nullable=False),
    Column("status", post_status, nullable=False),
    Column("n", BigInteger, nullable=False),
)

post_outcome_deltas = Table(
    "post_outcome_deltas",
    metadata,
    Column("minute", Timestamp, nullable=False),
    Column("account_id", UUID(as_uuid=True), nullable=False),
    Column("published", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
)


# Post events (migration 0006: written by a trigger on processing_logs), numbered per tenant.
event_sequences = Table(
    "event_sequences",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("last", BigInteger, nullable=False, server_default="0"),
)

events = Table(
    "events",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("post_id", UUID(as_uuid=True)),
    Column("account_id", UUID(as_uuid=True)),
    Column("occurred_at", Timestamp, nullable=False),
    Column("message", Text, nullable=False, server_default=""),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("events_occurred", "occurred_at"),
)

# How far the dispatchers' relay has published each tenant's events to NATS; the lease says which
# relay is publishing them now (migration 0009).
event_relay = Table(
    "event_relay",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("relayed", BigInteger, nullable=False, server_default="0"),
    Column("lease_owner", Text),
    Column("lease_expires_at", Timestamp),
)

event_webhooks = Table(
    "event_webhooks",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("delivered", BigInteger, nullable=False, server_default="0"),
    Column("head_attempts", Integer, nullable=False, server_default="0"),
    Column("head_first_attempt_at", Timestamp),
    Column("next_attempt_at", Timestamp),
    Column("last_error", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    # The publisher delivering the tenant's events now, until when (migration 0009).
    Column("lease_owner", Text),
    Column("lease_expires_at", Timestamp),
)

event_deliveries = Table(
    "event_deliveries",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("type", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Column("at", Timestamp, nullable=False),
    Index("event_deliveries_tenant", "tenant_id", "id"),
)

# The dashboard's sign-ins (migration 0010; postsched/store/dashboard_sessions.py).
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id_digest", LargeBinary, primary_key=True),
    Column("operator", Text, nullable=False),
    Column("token_digest", LargeBinary, nullable=False),
    Column("client", Text, nullable=False, server_default=""),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp),
    Index("dashboard_sessions_expires", "expires_at"),
)


# Migration 0011: posts on a rhythm.
recurring_posts = Table(
    "recurring_posts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Column("media_urls", ARRAY(Text), nullable=False, server_default="{}"),
    Column("link", Text, nullable=False, server_default=""),
    # Migration 0012: what each occurrence is, and its first comment.
    Column("kind", Text, nullable=False, server_default="FEED"),
    Column("reel", JSONB),
    Column("first_comment", Text),
    Column("start_time", TIMESTAMP(timezone=False), nullable=False),  # civil, in time_zone
    Column("time_zone", Text, nullable=False),
    Column("recurrence", ARRAY(Text), nullable=False),
    # ACTIVE, PAUSED, ENDED, CANCELLED (named state: `status` is a post's, written by transitions only)
    Column("state", Text, nullable=False, server_default="ACTIVE"),
    # Bumped by a new rule, a pause and a resume: part of each occurrence's unique key.
    Column("version", Integer, nullable=False, server_default="1"),
    # Every occurrence of this version up to here exists as a post (the horizon duty's cursor).
    Column("created_through", Timestamp, nullable=False),
    Column("occurrences_created", BigInteger, nullable=False, server_default="0"),
    Column("idempotency_key", Text),
    Column("trace_context", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("recurring_posts_tenant_created", "tenant_id", "created_at", "id"),
    Index("recurring_posts_account", "account_id"),
    Index("recurring_posts_active", "created_through", postgresql_where=text("state = 'ACTIVE'")),
    Index("recurring_posts_idempotency", "tenant_id", "idempotency_key", unique=True,
          postgresql_where=text("idempotency_key IS NOT NULL")),
)

posting_schedules = Table(
    "posting_schedules",
    metadata,
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("time_zone", Text, nullable=False),
    Column("slots", JSONB, nullable=False),  # [[iso weekday, "HH:MM"], ...] in the order given
    Column("updated_at", Timestamp, nullable=False),
)


# Migration 0012: the rolling-window caps Meta puts on an account's publications (Instagram's
# content_publishing_limit, Facebook Page Reels' 30 a day); postsched/store/quotas.py.
publishing_quotas = Table(
    "publishing_quotas",
    metadata,
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("used", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("window_seconds", Integer, nullable=False),
    Column("read_at", Timestamp),  # last read from Meta (NULL: counted from our own publications)
    Column("frees_at", Timestamp),  # when full: when the oldest publication leaves the window
    # Places taken by publications under way (not in `used` until they are done); forgotten after
    # reserved_until, so a publisher that died holding one does not keep it.
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("reserved_until", Timestamp),
    Column("updated_at", Timestamp, nullable=False),
)
