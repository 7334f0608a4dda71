"""What operators do to posts: retry failed ones, clear away published ones.

Named operations on a connection the caller holds; each touches at most BATCH posts, so the
caller's loop keeps every transaction short.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from postsched.lifecycle import PostStatus
from postsched.store.database import Connection
from postsched.store.posts import COLUMNS
from postsched.store.posts.transitions import move, params

BATCH = 1000

# FAILED -> SCHEDULED, due now with a fresh delivery budget. platform_state is kept: what earlier
# attempts left (their claim times, an Instagram container) lets the next attempt ask the platform
# first, never publish blindly again.
RETRY: dict[str, Any] = dict(
    sources=(PostStatus.FAILED,), target=PostStatus.SCHEDULED, event="retried", message="%(message)s",
    set="scheduled_at = %(now)s, attempts = 0, last_error = NULL, lease_owner = NULL, lease_expires_at = NULL",
)
RETRY_ONE = move(source="(SELECT %(id)s::uuid AS id) AS one", match="p.id = one.id", **RETRY, returning="p.*",
                 select=f"SELECT {COLUMNS} FROM moved")

# Entries kept when a published post is cleared: its history of trouble, for later questions.
KEPT_LOG_EVENTS = ("attempt_failed", "failed", "rate_limited", "lease_expired", "published_reconciled",
                   "reconciled_not_published", "retried", "message_lost", "first_comment_attempt_failed",
                   "first_comment_failed")

CLEAR_PUBLISHED = f"""
WITH doomed AS (
    SELECT id FROM posts WHERE status = 'PUBLISHED' AND published_at < %(cutoff)s
      -- A first comment still to be made needs its post; a Reel of the last day counts towards
      -- its Page's daily Reels (postsched/store/quotas.py counts them from here).
      AND first_comment_status IS DISTINCT FROM 'PENDING'
      AND NOT (kind = 'REEL' AND published_at > now() - interval '24 hours')
    ORDER BY published_at LIMIT {BATCH} FOR UPDATE SKIP LOCKED
), logs AS (
    DELETE FROM processing_logs l USING doomed
    WHERE l.post_id = doomed.id AND l.event <> ALL(%(kept)s)
)
DELETE FROM posts p USING doomed WHERE p.id = doomed.id RETURNING p.id
"""


async def retry_failed(conn: Connection, scope_filter: str, values: dict[str, Any], *, now: datetime,
                       actor: str) -> list[uuid.UUID]:
    """Up to BATCH of the scope's FAILED posts (`scope_filter`, an AND clause over posts, with its
    `values`) whose account still exists; returns each retried post's account id."""
    statement = move(
        before=f"""picked AS (
            SELECT id FROM posts WHERE status = 'FAILED' {scope_filter}
              AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = posts.account_id AND a.deleted_at IS NOT NULL)
            LIMIT {BATCH} FOR UPDATE SKIP LOCKED
        )""",
        source="picked", match="p.id = picked.id", **RETRY, select="SELECT log_account_id AS account_id FROM moved")
    cur = await conn.execute(statement, {**values, **params(now=now, actor=actor, message=f"retried by {actor}")})
    return [row["account_id"] for row in await cur.fetchall()]


async def retry_one(conn: Connection, post_id: uuid.UUID, *, now: datetime, actor: str,
                    message: str) -> dict[str, Any] | None:
    """The post, if FAILED, -> SCHEDULED; its row (COLUMNS) as retried, or None."""
    cur = await conn.execute(RETRY_ONE, params(id=post_id, now=now, actor=actor, message=message))
    return await cur.fetchone()


async def clear_published(conn: Connection, cutoff: datetime) -> int:
    """Deletes up to BATCH posts published before `cutoff`, with their audit entries except those
    of trouble (KEPT_LOG_EVENTS); returns how many."""
    cur = await conn.execute(CLEAR_PUBLISHED, {"cutoff": cutoff, "kept": list(KEPT_LOG_EVENTS)})
    return len(await cur.fetchall())
