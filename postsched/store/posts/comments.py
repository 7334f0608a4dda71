"""A published post's first comment: claimed, fenced and recorded as a step of its own.

The comment never touches the post's own state: its writes change only the first_comment_*
columns, and only while the comment is PENDING and the attempt that writes still holds it (its
first_comment_attempts is the fencing token, bumped by each claim). A claim also sets
first_comment_due_at to the end of its lease: a publisher that dies mid-comment leaves the comment
to the next claim once that time passes, and that claim looks on the platform before commenting.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from postsched.lifecycle import FirstCommentStatus
from postsched.store.database import Database
from postsched.store.processing_log import LogEntry, append

# Accounts needing credentials or asked to wait by the platform keep their comments PENDING.
CLAIM = """
WITH due AS (
    SELECT p.id FROM posts p JOIN accounts a ON a.id = p.account_id
    WHERE p.first_comment_status = 'PENDING' AND p.status = 'PUBLISHED'
      AND (p.first_comment_due_at IS NULL OR p.first_comment_due_at <= %(now)s)
      AND NOT a.needs_credentials AND a.deleted_at IS NULL
      AND (a.throttled_until IS NULL OR a.throttled_until <= %(now)s)
    ORDER BY p.first_comment_due_at NULLS FIRST
    LIMIT %(limit)s
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE posts p SET first_comment_attempts = p.first_comment_attempts + 1, first_comment_due_at = %(lease_until)s
FROM due, accounts a
WHERE p.id = due.id AND a.id = p.account_id
RETURNING p.id, p.tenant_id, p.account_id, p.first_comment AS text, p.first_comment_attempts AS attempt,
          p.platform_post_id, a.platform::text AS platform, a.external_id, a.credentials
"""

FENCE = "id = %(id)s AND first_comment_attempts = %(attempt)s AND first_comment_status = 'PENDING'"


@dataclass(frozen=True)
class ClaimedComment:
    id: uuid.UUID  # the post's
    tenant_id: str
    account_id: uuid.UUID
    text: str
    attempt: int  # 1 for the first; the fencing token of this one
    platform_post_id: str | None
    platform: str
    external_id: str
    credentials: bytes


class CommentStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, *, limit: int, now: datetime, lease_until: datetime) -> list[ClaimedComment]:
        """Up to `limit` due comments of published posts, each held until `lease_until`."""
        async with self._db.connection() as conn:
            cur = await conn.execute(CLAIM, {"now": now, "limit": limit, "lease_until": lease_until})
            return [ClaimedComment(**row) for row in await cur.fetchall()]

    async def published(self, claimed: ClaimedComment, comment_id: str, *, found: bool = False) -> bool:
        """The comment exists (made now, or `found` on the platform by a later attempt)."""
        how = "found on the platform: " if found else ""
        return await self._settle(claimed, FirstCommentStatus.PUBLISHED, "first_comment_published",
                                  f"{how}{comment_id}", comment_id=comment_id)

    async def failed(self, claimed: ClaimedComment, reason: str) -> bool:
        """For good: the post stays published; the comment is FAILED with `reason`."""
        return await self._settle(claimed, FirstCommentStatus.FAILED, "first_comment_failed", reason, error=reason)

    async def _settle(self, claimed: ClaimedComment, status: FirstCommentStatus, event: str, message: str, *,
                      comment_id: str | None = None, error: str | None = None) -> bool:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"""UPDATE posts SET first_comment_status = %(status)s, first_comment_id = %(comment)s,
                        first_comment_error = %(error)s, first_comment_due_at = NULL WHERE {FENCE} RETURNING id""",
                {"status": status.value, "comment": comment_id, "error": error, "id": claimed.id,
                 "attempt": claimed.attempt})
            if await cur.fetchone() is None:
                return False  # taken over by a later claim: it decides
            await append(conn, [LogEntry(claimed.id, claimed.tenant_id, claimed.account_id, event, message=message)])
        return True

    async def later(self, claimed: ClaimedComment, at: datetime, reason: str) -> bool:
        """Try again at `at`. The attempt count is never given back: it is the fence, and what
        makes the next try look on the platform first."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"""UPDATE posts SET first_comment_due_at = %(at)s, first_comment_error = %(reason)s
                    WHERE {FENCE} RETURNING id""",
                {"at": at, "reason": reason, "id": claimed.id, "attempt": claimed.attempt})
            if await cur.fetchone() is None:
                return False
            await append(conn, [LogEntry(claimed.id, claimed.tenant_id, claimed.account_id,
                                         "first_comment_attempt_failed", message=f"{reason}; again at {at.isoformat()}")])
        return True
