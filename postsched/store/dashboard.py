"""The dashboard's reads beyond AdminStore's: per-account counts, outcomes per minute, one post."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from postsched.store import quotas
from postsched.store.accounts import COLUMNS as ACCOUNT_COLUMNS
from postsched.store.counters import POST_COUNTS, POST_OUTCOMES
from postsched.store.database import Database
from postsched.store.posts import COLUMNS as POST_COLUMNS
from postsched.store.recurring import COLUMNS as RECURRING_COLUMNS
from postsched.store.records import AccountRecord, PostRecord


# A post this far past its due time without reaching the platform is shown as overdue.
OVERDUE_AFTER = 60.0


@dataclass(frozen=True)
class AccountRow:
    account: AccountRecord
    throttled_until: datetime | None
    counts: dict[str, int]  # posts per status
    slots: int = 0  # slots a week in its posting schedule (0: none)


class DashboardStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def accounts(self, limit: int = 50) -> list[AccountRow]:
        """Accounts that need a person first (credentials refused, then expiring soon or lacking a
        permission, then paused), then the busiest."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""WITH c AS (SELECT account_id, status::text AS status, sum(n)::bigint AS n FROM {POST_COUNTS} c
                               GROUP BY 1, 2 HAVING sum(n) <> 0)
                    SELECT {ACCOUNT_COLUMNS}, throttled_until,
                           (SELECT jsonb_array_length(s.slots) FROM posting_schedules s WHERE s.account_id = a.id) AS slots,
                           coalesce(jsonb_object_agg(c.status, c.n) FILTER (WHERE c.status IS NOT NULL), '{{}}') AS counts
                    FROM accounts a LEFT JOIN c ON c.account_id = a.id
                    WHERE a.deleted_at IS NULL
                    GROUP BY a.id
                    ORDER BY a.needs_credentials OR coalesce(a.credentials_status, '') = 'INVALID' DESC,
                             coalesce(a.credentials_status, '') = 'EXPIRING' OR a.credentials_problem IS NOT NULL DESC,
                             a.paused DESC,
                             coalesce(sum(c.n) FILTER (WHERE c.status IN ('SCHEDULED', 'QUEUED', 'PUBLISHING')), 0) DESC,
                             a.created_at, a.id
                    LIMIT %s""",
                (limit,),
            )
            rows = await cur.fetchall()
            # Each account's publishing quotas, as last read or counted.
            found = await quotas.of_accounts(conn, [row["id"] for row in rows], now=datetime.now(timezone.utc))
            return [AccountRow(replace(AccountRecord.from_row(row), publishing_quotas=found.get(row["id"], ())),
                               row["throttled_until"], row["counts"], row["slots"] or 0) for row in rows]

    async def tenants(self) -> list[dict[str, Any]]:
        """Posts per status for each tenant, busiest first."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""SELECT tenant_id, jsonb_object_agg(status, n) AS counts FROM (
                        SELECT a.tenant_id, c.status::text AS status, sum(c.n)::bigint AS n FROM {POST_COUNTS} c
                        JOIN accounts a ON a.id = c.account_id GROUP BY 1, 2 HAVING sum(c.n) <> 0) t
                    GROUP BY 1 ORDER BY sum(n) DESC, 1 LIMIT 50"""
            )
            return [dict(row) for row in await cur.fetchall()]

    async def per_minute(self, now: datetime, minutes: int = 60) -> list[dict[str, Any]]:
        """Published and failed per minute over the last `minutes`, oldest first, gaps as zeros."""
        start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""SELECT minute, sum(published)::bigint AS published, sum(failed)::bigint AS failed
                    FROM {POST_OUTCOMES} o WHERE minute >= %s GROUP BY 1""",
                (start,),
            )
            found = {row["minute"]: row for row in await cur.fetchall()}
        series = []
        for i in range(minutes):
            minute = start + timedelta(minutes=i)
            row = found.get(minute)
            series.append({"minute": minute.isoformat(), "published": row["published"] if row else 0,
                           "failed": row["failed"] if row else 0})
        return series

    async def in_trouble(self, now: datetime, *, overdue_after: float = OVERDUE_AFTER,
                         limit: int = 50) -> list[dict[str, Any]]:
        """Posts an operator should see before they fail: in a second or later delivery (an attempt
        failed and a retry is coming), or past due by more than `overdue_after` seconds and not
        with the platform yet; oldest due first. Three index-backed parts (posts_due,
        posts_in_flight), each bounded, so a dashboard polling every second costs little."""
        late = now - timedelta(seconds=overdue_after)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                """WITH found AS (
                        (SELECT id FROM posts WHERE status = 'SCHEDULED' AND greatest(scheduled_at, not_before) < %(late)s
                         ORDER BY greatest(scheduled_at, not_before) LIMIT %(limit)s)
                        UNION
                        (SELECT id FROM posts WHERE status IN ('QUEUED', 'PUBLISHING') AND scheduled_at < %(late)s
                         ORDER BY scheduled_at LIMIT %(limit)s)
                        UNION
                        (SELECT id FROM posts WHERE status IN ('QUEUED', 'PUBLISHING') AND attempts >= 1
                           AND last_error IS NOT NULL ORDER BY scheduled_at LIMIT %(limit)s))
                    SELECT p.id, p.tenant_id, p.account_id, a.display_name, a.external_id, a.paused,
                           a.needs_credentials, p.status::text AS status, p.attempts, p.last_error,
                           greatest(p.scheduled_at, p.not_before) AS due, p.text
                    FROM found JOIN posts p USING (id) JOIN accounts a ON a.id = p.account_id
                    ORDER BY due, p.id LIMIT %(limit)s""",
                {"late": late, "limit": limit},
            )
            rows = await cur.fetchall()
        return [{"post_id": str(r["id"]), "tenant_id": r["tenant_id"], "account_id": str(r["account_id"]),
                 "account": r["display_name"] or r["external_id"], "status": r["status"], "attempts": r["attempts"],
                 "retrying": bool(r["attempts"] >= 1 and r["last_error"] and r["status"] != "SCHEDULED"),
                 "due": r["due"].isoformat(), "late_seconds": max(0, round((now - r["due"]).total_seconds())),
                 "why": r["last_error"] or ("account paused" if r["paused"] else "account needs new credentials"
                                            if r["needs_credentials"] else ""),
                 "text": r["text"][:80]} for r in rows]

    async def recurring(self, recurring_id: uuid.UUID) -> dict[str, Any] | None:
        """A recurring post's rule and state, for the page of one of its occurrences."""
        async with self._db.connection() as conn:
            cur = await conn.execute(f"SELECT {RECURRING_COLUMNS} FROM recurring_posts WHERE id = %s", (recurring_id,))
            return await cur.fetchone()

    async def post(self, post_id: uuid.UUID) -> PostRecord | None:
        async with self._db.connection() as conn:
            cur = await conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE id = %s", (post_id,))
            row = await cur.fetchone()
            return PostRecord.from_row(row) if row else None
