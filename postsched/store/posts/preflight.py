"""The media pre-flight's SQL: claim posts whose media are to be checked, report what is wrong.

A claim sets media_checked_at in the statement that picks the posts (FOR UPDATE SKIP LOCKED), so
two publishers never check one post, and no publisher checks it twice: UpdatePost clears
media_checked_at (new media are checked again). A report is a compare-and-set on that stamp: a
check that an UpdatePost overtook reports nothing (its media are no longer the post's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from postsched.store.database import Database
from postsched.tracecontext import current_trace_id

# Matches the posts_media_unchecked index's predicate (migration 0012), so the scan reads only
# the posts still to be checked, in due order.
DUE = "greatest(p.scheduled_at, p.not_before)"
UNCHECKED = ("p.status = 'SCHEDULED' AND p.media_checked_at IS NULL"
             " AND (cardinality(p.media_urls) > 0 OR p.reel ->> 'cover_url' IS NOT NULL)")

# Candidates are locked in due order; then each tenant gets at most `per_tenant` of the batch, so
# one tenant's thousand posts do not hold the others' back. (A window function cannot sit in the
# locking SELECT itself.)
CLAIM = f"""
WITH candidates AS (
    SELECT p.id, p.tenant_id, {DUE} AS due_at FROM posts p
    WHERE {UNCHECKED} AND {DUE} <= %(until)s AND NOT p.tenant_id = ANY(%(skip)s)
    ORDER BY {DUE}
    LIMIT %(scan)s
    FOR UPDATE SKIP LOCKED
), ranked AS (
    SELECT id, due_at, row_number() OVER (PARTITION BY tenant_id ORDER BY due_at, id) AS nth FROM candidates
), chosen AS (
    SELECT id FROM ranked WHERE nth <= %(per_tenant)s ORDER BY nth, due_at LIMIT %(limit)s
)
UPDATE posts p SET media_checked_at = %(now)s
FROM chosen, accounts a
WHERE p.id = chosen.id AND a.id = p.account_id
RETURNING p.id, p.tenant_id, p.account_id, a.platform::text AS platform, p.kind, p.media_urls,
          p.reel ->> 'cover_url' AS cover_url, p.media_checked_at AS checked_at
"""

# The event post.media_unreachable (lifecycle.PUBLIC_NOTES), only while the post is still the one
# that was checked: SCHEDULED, with the claim's stamp.
REPORT = """
INSERT INTO processing_logs (post_id, tenant_id, account_id, event, message, trace_id)
SELECT id, tenant_id, account_id, 'media_unreachable', %(message)s, %(trace_id)s FROM posts
WHERE id = %(id)s AND status = 'SCHEDULED' AND media_checked_at = %(checked_at)s
"""


@dataclass(frozen=True)
class MediaToCheck:
    id: uuid.UUID
    tenant_id: str
    account_id: uuid.UUID
    platform: str
    kind: str
    media_urls: list[str]
    cover_url: str | None
    checked_at: datetime


class PreflightStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(
        self, *, now: datetime, until: datetime, limit: int, per_tenant: int, skip_tenants: Sequence[str] = (),
    ) -> list[MediaToCheck]:
        """Up to `limit` SCHEDULED posts due by `until` whose media are unchecked (at most
        `per_tenant` of one tenant, none of `skip_tenants`), marked checked at `now`."""
        async with self._db.connection() as conn:
            cur = await conn.execute(CLAIM, {
                "now": now, "until": until, "limit": limit, "per_tenant": per_tenant, "scan": limit * 4,
                "skip": list(skip_tenants),
            })
            return [MediaToCheck(**row) for row in await cur.fetchall()]

    async def report(self, post: MediaToCheck, message: str) -> bool:
        """Writes the post's media_unreachable entry; False if the post changed since its claim."""
        async with self._db.connection() as conn:
            cur = await conn.execute(REPORT, {
                "id": post.id, "checked_at": post.checked_at, "message": message, "trace_id": current_trace_id(),
            })
            return cur.rowcount == 1
