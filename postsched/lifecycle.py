"""The post lifecycle: its states, who moves a post out of each, and every transition there is.

This is the one list. The database enum (migration 0001), the API's PostStatus, the events
trigger's type names (migration 0006's postsched_event_type) and the README's lifecycle are checked
against it by tests/integration/test_lifecycle.py, and the fault suite fails when it sees a transition in the
processing log that is not here.

    created ──► SCHEDULED ──queued──► QUEUED ──claimed──► PUBLISHING ──published──► PUBLISHED
                  ▲   ▲                 │  │                 │  │ └──failed──► FAILED ──retried──┐
                  │   └─released, lease_expired, message_lost, deferred       │               │
                  │                     │                  attempt_failed──► QUEUED (redelivered)
                  └──────── rate_limited, released, reconciled_not_published ─┘               │
                  └──────────────────────────────────────────────────────────────────────────┘
    SCHEDULED, QUEUED (tenant's CancelPost) and FAILED (account deleted) ──cancelled──► CANCELLED
    SCHEDULED (an occurrence of a recurring post, too late) ──skipped──► CANCELLED
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PostStatus(enum.StrEnum):
    """A post's state; each value says who moves a post out of it."""

    SCHEDULED = "SCHEDULED"    # a dispatcher leases it (-> QUEUED); the tenant may update, reschedule or cancel it
    QUEUED = "QUEUED"          # a publisher claims it (-> PUBLISHING) or gives it back; the dispatcher's rescuer
    #                            and lost-message duty return it (-> SCHEDULED); the tenant may cancel it
    PUBLISHING = "PUBLISHING"  # the attempt (or the publisher's rescuer, after its lease) records the outcome
    PUBLISHED = "PUBLISHED"    # final
    FAILED = "FAILED"          # an operator retries it (-> SCHEDULED); deleting its account cancels it
    CANCELLED = "CANCELLED"    # final


FINAL = frozenset({PostStatus.PUBLISHED, PostStatus.CANCELLED})


@dataclass(frozen=True)
class Transition:
    source: PostStatus | None  # None: the post did not exist
    target: PostStatus
    event: str  # the processing-log entry's event
    public: str | None = None  # the tenant's event type (WatchEvents, webhooks, NATS), if any
    by: str = ""  # who makes it


S, Q, P = PostStatus.SCHEDULED, PostStatus.QUEUED, PostStatus.PUBLISHING

TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, S, "created", by="scheduler: CreatePost, BatchCreatePosts"),
    Transition(S, S, "updated", by="scheduler: UpdatePost"),
    Transition(S, S, "rescheduled", "post.rescheduled", by="scheduler: ReschedulePost, SetPostingSchedule (reshuffle)"),
    Transition(S, S, "paced", "post.waiting", by="dispatcher: held by its account's min_post_interval"),
    Transition(S, Q, "queued", by="dispatcher: lease"),
    Transition(Q, S, "released", by="dispatcher: a lease given back at shutdown"),
    Transition(Q, S, "lease_expired", by="dispatcher: rescuer"),
    Transition(Q, S, "message_lost", by="dispatcher: lost-message duty"),
    Transition(Q, S, "deferred", by="publisher: fair share (the account holds enough posts here)"),
    Transition(Q, P, "claimed", by="publisher: claim"),
    Transition(P, PostStatus.PUBLISHED, "published", "post.published", by="publisher: attempt"),
    Transition(P, PostStatus.PUBLISHED, "published_reconciled", "post.published",
               by="publisher: attempt or rescuer, found on the platform"),
    Transition(P, PostStatus.FAILED, "failed", "post.failed", by="publisher: attempt or rescuer"),
    Transition(P, Q, "attempt_failed", by="publisher: attempt (a transient error; JetStream redelivers)"),
    Transition(P, S, "rate_limited", "post.waiting", by="publisher: attempt (the platform asked to wait)"),
    Transition(P, S, "released", by="publisher: attempt not started (stopping, or over its account's share)"),
    Transition(P, S, "reconciled_not_published", by="publisher: rescuer (not on the platform)"),
    Transition(PostStatus.FAILED, S, "retried", "post.retried", by="admin: RetryPost, RetryFailed, dashboard"),
    Transition(S, PostStatus.CANCELLED, "cancelled", "post.cancelled",
               by="scheduler: CancelPost, DeleteAccount, a recurring post's cancel, pause or new rule"),
    Transition(S, PostStatus.CANCELLED, "skipped", "post.skipped",
               by="dispatcher: an occurrence more than POSTSCHED_MISSED_OCCURRENCE_GRACE late"),
    Transition(Q, PostStatus.CANCELLED, "cancelled", "post.cancelled",
               by="scheduler: CancelPost, DeleteAccount, a recurring post's cancel, pause or new rule"),
    Transition(PostStatus.FAILED, PostStatus.CANCELLED, "cancelled", "post.cancelled", by="scheduler: DeleteAccount"),
)

# How a skipped occurrence's last_error begins (RecurringStore counts its recurring post's by it).
SKIPPED = "skipped:"

# Processing-log entries about a post that do not change its state.
NOTES = frozenset({"handed_over", "first_comment_attempt_failed"})

# Processing-log entries about a post or an account that change no post's state but are the
# tenant's events (postsched_event_type, migration 0012); written with to_status NULL.
PUBLIC_NOTES: dict[str, str] = {
    "first_comment_published": "post.first_comment_published",
    "first_comment_failed": "post.first_comment_failed",
    "media_unreachable": "post.media_unreachable",
    "needs_credentials": "account.needs_credentials",
    "credentials_updated": "account.credentials_updated",
    "credentials_expiring": "account.credentials_expiring",
    "recurring_post_ended": "recurring_post.ended",
}


class FirstCommentStatus(enum.StrEnum):
    """A post's first comment, a step of its own after the post is PUBLISHED (no comment: NULL).

    PENDING -> PUBLISHED (first_comment_id) or FAILED (first_comment_error); the post's own state
    never changes for it, and it never publishes the post again.
    """

    PENDING = "PENDING"      # the first-comments duty makes it once the post is PUBLISHED
    PUBLISHED = "PUBLISHED"  # final
    FAILED = "FAILED"        # final: permanent error, or attempts used up


class CredentialsStatus(enum.StrEnum):
    """An account's token as the credentials-health duty last found it (NULL: never checked)."""

    OK = "OK"
    EXPIRING = "EXPIRING"  # works, expires within POSTSCHED_CREDENTIALS_WARNING
    INVALID = "INVALID"    # rejected, or lacks a permission its posts need: accounts.needs_credentials


_BY_KEY: dict[tuple[str | None, str | None, str], Transition] = {(t.source and t.source.value, t.target.value, t.event): t for t in TRANSITIONS}


def find(source: str | None, target: str | None, event: str) -> Transition | None:
    """The transition a processing-log entry records, or None when the table has no such one
    (a lookup: every outcome the publisher records is checked here)."""
    return _BY_KEY.get((source, target, event))


def markdown_table() -> str:
    """The transitions as the README shows them (tests/integration/test_lifecycle.py keeps the two equal)."""
    rows = ["| from | to | processing-log event | tenant's event | made by |", "|---|---|---|---|---|"]
    for t in TRANSITIONS:
        source = f"`{t.source.value}`" if t.source else "(new)"
        public = f"`{t.public}`" if t.public else ""
        rows.append(f"| {source} | `{t.target.value}` | `{t.event}` | {public} | {t.by} |")
    return "\n".join(rows) + "\n"
