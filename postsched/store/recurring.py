"""Recurring posts: every write to the recurring_posts table.

A recurring post is a rule (RFC 5545 lines, a civil start time, a time zone) and content. Its
occurrences are ordinary posts, created ahead by the dispatchers' horizon duty (`add_occurrences`):
the recurring row is locked and its cursor (`created_through`, `version`) compared before any
occurrence is inserted, and each occurrence is unique per (recurring post, version, instant), so
replicas racing each other create each occurrence once.

A new rule, a pause and a resume bump `version`: the SCHEDULED and QUEUED occurrences of the old
one are cancelled in the same transaction, and the new version's occurrences start after the later
of now and the last occurrence still live (one being published is never made again).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Mapping, Sequence

from postsched.clock import Clock
from postsched.errors import Aborted, FailedPrecondition, NotFound
from postsched.store import processing_log
from postsched.store.database import Connection, Database
from psycopg.types.json import Jsonb
from postsched.store.processing_log import LogEntry
from postsched.store.posts import cancel_occurrences, insert_occurrences, update_occurrences
from postsched.lifecycle import SKIPPED
from postsched.store.records import NewPost, PageCursor

# occurrences_skipped is counted when read (the posts_occurrence index): a counter written by the
# dispatcher's skip would lock this row after the posts, the other order from the tenant's calls.
COLUMNS = (
    "id, tenant_id, account_id, text, media_urls, link, kind, reel, first_comment, start_time, time_zone, recurrence, "
    "state AS status, version, "
    "created_through, occurrences_created, idempotency_key, trace_context, created_at, updated_at, "
    "(SELECT count(*) FROM posts p WHERE p.recurring_post_id = recurring_posts.id AND p.status = 'CANCELLED' "
    f"AND p.last_error LIKE '{SKIPPED}%%') AS occurrences_skipped"
)
# ACTIVE, PAUSED, ENDED, CANCELLED (the API's RecurringPostStatus without its prefix).
ACTIVE, PAUSED, ENDED, CANCELLED = "ACTIVE", "PAUSED", "ENDED", "CANCELLED"


@dataclass(frozen=True)
class RecurringRecord:
    id: uuid.UUID
    tenant_id: str
    account_id: uuid.UUID
    text: str
    media_urls: list[str]
    link: str
    start_time: datetime  # civil, naive, in time_zone
    time_zone: str
    recurrence: list[str]
    status: str
    version: int
    created_through: datetime
    occurrences_created: int
    occurrences_skipped: int
    idempotency_key: str | None
    trace_context: str | None
    created_at: datetime
    updated_at: datetime
    kind: str = "FEED"  # each occurrence's, as a post's
    reel: dict[str, Any] | None = None
    first_comment: str | None = None

    @property
    def content(self) -> NewPost:
        """What each occurrence carries, as a post to create (its time aside)."""
        return NewPost(account_id=self.account_id, text=self.text, media_urls=list(self.media_urls), link=self.link,
                       scheduled_at=None, idempotency_key=None, kind=self.kind, reel=self.reel,
                       first_comment=self.first_comment or "")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "RecurringRecord":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NewRecurring:
    content: NewPost  # what each occurrence carries (its account, text, media, link, kind, reel, first comment)
    start_time: datetime
    time_zone: str
    recurrence: list[str]
    idempotency_key: str | None


@dataclass(frozen=True)
class Rule:
    start_time: datetime
    time_zone: str
    recurrence: list[str]


class RecurringStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, tenant_id: str, new: NewRecurring, *, trace_context: str | None) -> RecurringRecord:
        """Creates it (occurrences come from the horizon duty, from now on); the same idempotency key
        returns the first one."""
        now = self._clock.now()
        c = new.content
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""INSERT INTO recurring_posts (id, tenant_id, account_id, text, media_urls, link, kind, reel,
                                                 first_comment, start_time, time_zone, recurrence, created_through,
                                                 idempotency_key, trace_context, created_at, updated_at)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                    RETURNING {COLUMNS}""",
                (uuid.uuid4(), tenant_id, c.account_id, c.text, c.media_urls, c.link, c.kind, Jsonb(c.reel) if c.reel else None,
                 c.first_comment or None, new.start_time, new.time_zone, new.recurrence, now, new.idempotency_key,
                 trace_context, now, now),
            )
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(f"SELECT {COLUMNS} FROM recurring_posts WHERE tenant_id = %s AND idempotency_key = %s",
                                         (tenant_id, new.idempotency_key))
                row = await cur.fetchone()
                assert row is not None  # the conflicting row exists: rows are never deleted
        return RecurringRecord.from_row(row)

    async def live_count(self, tenant_id: str) -> int:
        """The tenant's recurring posts ACTIVE or PAUSED (the recurring_posts quota)."""
        async with self._db.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM recurring_posts WHERE tenant_id = %s "
                                     "AND state IN ('ACTIVE', 'PAUSED')", (tenant_id,))
            row = await cur.fetchone()
            return int(row["n"]) if row else 0

    async def get(self, tenant_id: str, recurring_id: uuid.UUID) -> RecurringRecord:
        async with self._db.connection() as conn:
            return await _get(conn, tenant_id, recurring_id)

    async def page(self, tenant_id: str, *, account_id: uuid.UUID | None, status: str | None, limit: int,
                   after: PageCursor | None) -> list[RecurringRecord]:
        """Up to `limit` in creation order, after the cursor."""
        where = ["tenant_id = %(tenant)s"]
        if account_id:
            where.append("account_id = %(account)s")
        if status:
            where.append("state = %(status)s")
        if after is not None:
            where.append("(created_at, id) > (%(at)s, %(id)s)")
        values = {"tenant": tenant_id, "account": account_id, "status": status, "limit": limit,
                  "at": after.at if after else None, "id": after.id if after else None}
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM recurring_posts WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT %(limit)s",
                values)
            return [RecurringRecord.from_row(r) for r in await cur.fetchall()]

    async def update(self, tenant_id: str, recurring_id: uuid.UUID, *, content: NewPost | None,
                     rule: Rule | None, read_at: datetime) -> RecurringRecord:
        """New content (also on the occurrences still SCHEDULED) and/or a new rule (the live
        occurrences of the old one cancelled, the new one's made from now on). `read_at`: the
        updated_at of the copy the change was made from; a concurrent change since is ABORTED (the
        fields a request leaves out keep that copy's values, which must still be the current ones)."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            current = await _get(conn, tenant_id, recurring_id, lock=True)
            if current.updated_at != read_at:
                raise Aborted(f"recurring post {recurring_id} changed while this update was prepared; retry")
            if current.status == CANCELLED:
                raise FailedPrecondition(f"recurring post {recurring_id} is cancelled")
            if content is not None:
                await conn.execute(
                    "UPDATE recurring_posts SET text = %s, media_urls = %s, link = %s, kind = %s, reel = %s, "
                    "first_comment = %s WHERE id = %s",
                    (content.text, content.media_urls, content.link, content.kind,
                     Jsonb(content.reel) if content.reel else None, content.first_comment or None, recurring_id))
                await update_occurrences(conn, recurring_id, content, now=now)
            if rule is not None:
                await conn.execute(
                    "UPDATE recurring_posts SET start_time = %s, time_zone = %s, recurrence = %s WHERE id = %s",
                    (rule.start_time, rule.time_zone, rule.recurrence, recurring_id))
                status = ACTIVE if current.status in (ACTIVE, ENDED) else current.status
                await _restart(conn, recurring_id, status, "the recurring post's rule changed", now)
            return await _touch(conn, recurring_id, now)

    async def pause(self, tenant_id: str, recurring_id: uuid.UUID) -> RecurringRecord:
        """No occurrence goes out while paused: the live ones are cancelled."""
        return await self._set_status(tenant_id, recurring_id, PAUSED, (ACTIVE,), "the recurring post was paused")

    async def resume(self, tenant_id: str, recurring_id: uuid.UUID) -> RecurringRecord:
        """Occurrences again from now on (those of the pause are not made up)."""
        return await self._set_status(tenant_id, recurring_id, ACTIVE, (PAUSED,), "the recurring post was resumed")

    async def cancel(self, tenant_id: str, recurring_id: uuid.UUID) -> RecurringRecord:
        """Ends it for good, with its live occurrences; cancelling twice returns it unchanged."""
        return await self._set_status(tenant_id, recurring_id, CANCELLED, (ACTIVE, PAUSED, ENDED),
                                      "the recurring post was cancelled")

    async def _set_status(self, tenant_id: str, recurring_id: uuid.UUID, status: str, sources: tuple[str, ...],
                          reason: str) -> RecurringRecord:
        now = self._clock.now()
        async with self._db.transaction() as conn:
            current = await _get(conn, tenant_id, recurring_id, lock=True)
            if current.status == status:
                return current
            if current.status not in sources:
                raise FailedPrecondition(f"recurring post {recurring_id} is {current.status}")
            await _restart(conn, recurring_id, status, reason, now)
            return await _touch(conn, recurring_id, now)

    async def due(self, *, until: datetime, limit: int) -> list[RecurringRecord]:
        """ACTIVE recurring posts whose occurrences are not created up to `until`, least advanced first."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""SELECT {COLUMNS} FROM recurring_posts WHERE state = 'ACTIVE' AND created_through < %s
                    ORDER BY created_through LIMIT %s""", (until, limit))
            return [RecurringRecord.from_row(r) for r in await cur.fetchall()]

    async def add_occurrences(self, record: RecurringRecord, instants: Sequence[datetime], *, through: datetime,
                              ended: bool) -> int | None:
        """Creates the occurrences at `instants` (all after record.created_through, up to `through`)
        and moves the cursor to `through` (ENDED when the rule has nothing after it). None when the
        record changed since it was read (another dispatcher did it, or the tenant changed it)."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            # The content as it is now, under the lock: a content update since `record` was read
            # changed no cursor, and its text must be what the new occurrences carry.
            cur = await conn.execute(
                """SELECT r.text, r.media_urls, r.link, r.kind, r.reel, r.first_comment
                   FROM recurring_posts r JOIN accounts a ON a.id = r.account_id
                   WHERE r.id = %s AND r.state = 'ACTIVE' AND r.version = %s AND r.created_through = %s
                     AND a.deleted_at IS NULL
                   FOR UPDATE OF r""", (record.id, record.version, record.created_through))
            current = await cur.fetchone()
            if current is None:
                return None
            created = await insert_occurrences(
                conn, tenant_id=record.tenant_id, recurring_id=record.id, version=record.version, instants=instants,
                content=replace(record, **current).content, trace_context=record.trace_context, now=now)
            await conn.execute(
                """UPDATE recurring_posts SET created_through = %s, occurrences_created = occurrences_created + %s,
                   state = CASE WHEN %s THEN 'ENDED' ELSE state END,
                   updated_at = CASE WHEN %s THEN %s ELSE updated_at END WHERE id = %s""",
                (through, created, ended, ended, now, record.id))
            if ended:  # recurring_post.ended: its last occurrence exists; a backend may offer a new rule
                await processing_log.append(conn, [LogEntry(None, record.tenant_id, record.account_id,
                                                            "recurring_post_ended", message=str(record.id))])
        return created


async def cancel_for_account(conn: Connection, account_id: uuid.UUID, *, now: datetime) -> None:
    """The account was deleted: its recurring posts end (their occurrences were cancelled with it)."""
    await conn.execute("UPDATE recurring_posts SET state = 'CANCELLED', updated_at = %s "
                       "WHERE account_id = %s AND state <> 'CANCELLED'", (now, account_id))


async def _get(conn: Connection, tenant_id: str, recurring_id: uuid.UUID, *, lock: bool = False) -> RecurringRecord:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM recurring_posts WHERE id = %s AND tenant_id = %s" + (" FOR UPDATE" if lock else ""),
        (recurring_id, tenant_id))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"recurring post {recurring_id} not found")
    return RecurringRecord.from_row(row)


async def _restart(conn: Connection, recurring_id: uuid.UUID, status: str, reason: str, now: datetime) -> None:
    """Cancels the live occurrences and starts a new version from the later of now and the last
    occurrence still live (QUEUED ones were cancelled; one being published is not made again)."""
    await cancel_occurrences(conn, recurring_id, reason=reason, now=now)
    await conn.execute(
        """UPDATE recurring_posts r SET state = %(status)s, version = r.version + 1,
               created_through = greatest(%(now)s, (SELECT max(occurrence_time) FROM posts
                                                   WHERE recurring_post_id = r.id AND status <> 'CANCELLED'))
           WHERE r.id = %(id)s""",
        {"status": status, "now": now, "id": recurring_id})


async def _touch(conn: Connection, recurring_id: uuid.UUID, now: datetime) -> RecurringRecord:
    cur = await conn.execute(f"UPDATE recurring_posts SET updated_at = %s WHERE id = %s RETURNING {COLUMNS}",
                             (now, recurring_id))  # RETURNING's subquery reads the posts as this transaction left them
    row = await cur.fetchone()
    assert row is not None  # locked by the caller
    return RecurringRecord.from_row(row)
