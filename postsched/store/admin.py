"""The admin service's SQL: stats from trigger-kept counters, logs, failed posts, retries, clean-up, pausing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

from postsched.errors import FailedPrecondition, NotFound
from postsched.store import accounts, counters, event_webhooks, events, processing_log
from postsched.store.posts import operators as posts_by_operators
from postsched.store.counters import POST_COUNTS, POST_OUTCOMES
from postsched.store.database import Connection, Database
from postsched.store.posts import COLUMNS as POST_COLUMNS
from postsched.store.processing_log import LogEntry
from postsched.store.records import AccountRecord, PageCursor, PostRecord

@dataclass(frozen=True)
class Scope:
    """Which posts a stat or action covers: all, one tenant's, or one account's."""

    tenant_id: str | None = None
    account_id: uuid.UUID | None = None

    def where(self, tenant_column: str = "tenant_id", account_column: str = "account_id") -> tuple[str, dict[str, Any]]:
        """An ' AND …' SQL fragment (empty for all) and its parameters."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.tenant_id:
            clauses.append(f"{tenant_column} = %(tenant)s")
            params["tenant"] = self.tenant_id
        if self.account_id:
            clauses.append(f"{account_column} = %(account)s")
            params["account"] = self.account_id
        return (" AND " + " AND ".join(clauses)) if clauses else "", params


@dataclass(frozen=True)
class PostStats:
    by_status: dict[str, int]
    oldest_overdue: datetime | None
    published_last_minute: int
    failed_last_minute: int
    published_last_hour: int
    failed_last_hour: int


@dataclass(frozen=True)
class LogRecord:
    id: int
    post_id: uuid.UUID | None
    tenant_id: str | None
    account_id: uuid.UUID | None
    event: str
    from_status: str | None
    to_status: str | None
    attempt: int | None
    message: str
    trace_id: str | None
    created_at: datetime
    actor: str | None = None


class AdminStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def stats(self, scope: Scope, now: datetime) -> PostStats:
        account_filter, params = scope.where("a.tenant_id", "a.id")
        post_filter, _ = scope.where()
        params["now"] = now
        params["window_start"] = now.replace(second=0, microsecond=0) - timedelta(minutes=60)
        async with self._db.connection() as conn:
            counts = await conn.execute(
                f"SELECT c.status::text AS status, sum(c.n)::bigint AS n FROM {POST_COUNTS} c "
                f"JOIN accounts a ON a.id = c.account_id WHERE true {account_filter} GROUP BY 1",
                params,
            )
            by_status = {row["status"]: row["n"] for row in await counts.fetchall()}
            overdue = await conn.execute(
                f"""SELECT least(
                        (SELECT min(greatest(scheduled_at, not_before)) FROM posts WHERE status = 'SCHEDULED'
                           AND greatest(scheduled_at, not_before) < %(now)s {post_filter}),
                        (SELECT min(scheduled_at) FROM posts WHERE status IN ('QUEUED', 'PUBLISHING')
                           AND scheduled_at < %(now)s {post_filter})) AS oldest""",
                params,
            )
            oldest = (await overdue.fetchone())["oldest"]  # type: ignore[index]
            outcomes = await conn.execute(
                "SELECT o.minute, sum(o.published)::bigint AS published, sum(o.failed)::bigint AS failed "
                f"FROM {POST_OUTCOMES} o JOIN accounts a ON a.id = o.account_id "
                f"WHERE o.minute >= %(window_start)s {account_filter} GROUP BY 1",
                params,
            )
            minutes = {row["minute"]: (row["published"], row["failed"]) for row in await outcomes.fetchall()}
        return PostStats(by_status, oldest, *_sliding(minutes, now, 1), *_sliding(minutes, now, 60))

    async def list_logs(
        self, *, post_id: uuid.UUID | None, account_id: uuid.UUID | None, event: str | None,
        since: datetime | None, until: datetime | None, limit: int, before_id: int | None,
    ) -> list[LogRecord]:
        """Newest first, keyset-paged on id."""
        where: list[str] = ["true"]
        params: dict[str, Any] = {"limit": limit}
        for column, value in (("post_id", post_id), ("account_id", account_id), ("event", event)):
            if value:
                where.append(f"{column} = %({column})s")
                params[column] = value
        if since:
            where.append("created_at >= %(since)s")
            params["since"] = since
        if until:
            where.append("created_at < %(until)s")
            params["until"] = until
        if before_id:
            where.append("id < %(before)s")
            params["before"] = before_id
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT id, post_id, tenant_id, account_id, event, from_status::text AS from_status, "
                "to_status::text AS to_status, attempt, message, trace_id, created_at, actor "
                f"FROM processing_logs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %(limit)s",
                params,
            )
            return [LogRecord(**row) for row in await cur.fetchall()]

    async def failed_posts(self, scope: Scope, *, limit: int, after: PageCursor | None) -> list[PostRecord]:
        """Newest failure first, keyset-paged on (updated_at, id)."""
        scope_filter, params = scope.where()
        params["limit"] = limit
        keyset = ""
        if after is not None:
            keyset = " AND (updated_at, id) < (%(at)s, %(id)s)"
            params.update(at=after.at, id=after.id)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE status = 'FAILED' {scope_filter}{keyset} "
                "ORDER BY updated_at DESC, id DESC LIMIT %(limit)s",
                params,
            )
            return [PostRecord.from_row(row) for row in await cur.fetchall()]

    async def retry_failed(self, scope: Scope, now: datetime, actor: str) -> tuple[int, int]:
        """FAILED -> SCHEDULED due now with a fresh delivery budget, in batches; returns how many,
        and how many of those wait for their account's new credentials before they can go out.

        platform_state is kept: what earlier attempts left (their claim times, an Instagram
        container) lets the next attempt ask the platform first, never publish blindly again."""
        scope_filter, values = scope.where()
        total = waiting = 0
        while True:
            async with self._db.connection() as conn:
                account_ids = await posts_by_operators.retry_failed(conn, scope_filter, values, now=now, actor=actor)
                if account_ids:
                    cur = await conn.execute(
                        "SELECT id FROM accounts WHERE id = ANY(%s) AND needs_credentials", (list(set(account_ids)),)
                    )
                    blocked = {row["id"] for row in await cur.fetchall()}
                    waiting += sum(1 for a in account_ids if a in blocked)
            total += len(account_ids)
            if len(account_ids) < posts_by_operators.BATCH:
                return total, waiting

    async def retry_post(self, post_id: uuid.UUID, now: datetime, actor: str) -> tuple[PostRecord, str | None]:
        """Returns the retried post and its trace context (the CreatePost call's)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"SELECT {POST_COLUMNS}, trace_context FROM posts WHERE id = %s FOR UPDATE", (post_id,)
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"post {post_id} not found")
            current = PostRecord.from_row(row)
            if current.status != "FAILED":
                raise FailedPrecondition(f"post {post_id} is {current.status}; only FAILED posts can be retried")
            cur = await conn.execute(
                "SELECT needs_credentials, deleted_at FROM accounts WHERE id = %s", (current.account_id,)
            )
            account = await cur.fetchone()
            if account is not None and account["deleted_at"] is not None:
                raise FailedPrecondition(f"the account {current.account_id} of post {post_id} was deleted")
            if account is not None and account["needs_credentials"]:
                raise FailedPrecondition(
                    f"the account {current.account_id} of post {post_id} needs new credentials: call "
                    "SchedulerService.UpdateAccountCredentials first (the post would only wait for them)"
                )
            updated = await posts_by_operators.retry_one(
                conn, post_id, now=now, actor=actor, message=f"retried by {actor}; last error: {current.last_error or ''}")
        return PostRecord.from_row(updated), row["trace_context"]  # type: ignore[arg-type]

    async def _in_batches(self, step: Callable[[Connection], Awaitable[int]], batch: int) -> int:
        """Runs `step` (which deletes at most `batch` rows and says how many) in a transaction of
        its own again and again until it deletes fewer, so no lock is held for long; the total."""
        total = 0
        while True:
            async with self._db.transaction() as conn:
                count = await step(conn)
            total += count
            if count < batch:
                return total

    async def clear_events(self, cutoff: datetime) -> int:
        """Deletes events (and webhook delivery attempts) older than `cutoff`, except those a
        tenant's webhook has not delivered yet: a callback endpoint that is away loses nothing.
        WatchEvents from after_sequence=0 then starts at the oldest event kept."""
        total = await self._in_batches(lambda conn: events.clear_before(conn, cutoff), events.CLEAR_BATCH)
        async with self._db.connection() as conn:
            await event_webhooks.clear_deliveries_before(conn, cutoff)
        return total

    async def clear_published(self, cutoff: datetime, actor: str | None = None) -> int:
        """Deletes PUBLISHED posts published before `cutoff`, a batch per transaction so no lock is
        held for long, with their audit entries except those of trouble."""
        total = await self._in_batches(lambda conn: posts_by_operators.clear_published(conn, cutoff),
                                       posts_by_operators.BATCH)
        async with self._db.connection() as conn:
            await counters.clear_old_outcomes(conn)  # older than the stats window
            if actor is not None:  # an operator's clear-up is in the audit trail (the hourly one is not)
                await processing_log.append(conn, [LogEntry(
                    None, None, None, "cleared", actor=actor,
                    message=f"{total} published posts older than {cutoff.isoformat(timespec='seconds')} deleted by {actor}",
                )])
        return total

    async def set_paused(self, account_id: uuid.UUID, paused: bool, now: datetime, actor: str) -> AccountRecord:
        async with self._db.transaction() as conn:
            return await accounts.set_paused(conn, account_id, paused, now=now, actor=actor)


def _sliding(minutes: dict[datetime, tuple[int, int]], now: datetime, span: int) -> tuple[int, int]:
    """(published, failed) in the last `span` minutes: whole minute buckets inside the window, and
    the oldest bucket weighted by the part of it still inside (a sliding-window estimate)."""
    current = now.replace(second=0, microsecond=0)
    inside = (now - current).total_seconds() / 60
    published = failed = 0.0
    for minute, (p, f) in minutes.items():
        age = (current - minute).total_seconds() / 60  # 0 for the current bucket
        if age < span:
            weight = 1.0
        elif age == span:
            weight = 1.0 - inside
        else:
            continue
        published += p * weight
        failed += f * weight
    return round(published), round(failed)
