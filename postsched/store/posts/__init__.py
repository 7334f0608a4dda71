"""Posts as the scheduler sees them: create (idempotent, batched), read, list, reschedule, cancel.

Every state change is a compare-and-set on `status`, written to the processing log in the same
transaction.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Sequence

from psycopg.types.json import Jsonb

from postsched.clock import Clock
from postsched.errors import FailedPrecondition, NotFound
from postsched.lifecycle import PostStatus
from postsched.store.counters import POST_COUNTS
from postsched.store.database import Connection, Database
from postsched.store.records import NewPost, PageCursor, PostRecord
from postsched.store.posts.transitions import move, params
from postsched.tracecontext import current_trace_id, trace_id_of

S, Q = PostStatus.SCHEDULED, PostStatus.QUEUED

COLUMNS = (
    "id, tenant_id, account_id, status::text AS status, text, media_urls, link, scheduled_at, published_at, "
    "platform_post_id, permalink, attempts, last_error, idempotency_key, created_at, updated_at, "
    "recurring_post_id, occurrence_time, slotted, kind, reel, first_comment, first_comment_status, first_comment_id, "
    "first_comment_error"
)

# One statement inserts the whole batch and its "created" log entries. Rows whose idempotency key
# the tenant already used are skipped by ON CONFLICT; RETURNING names the rows really inserted.
# media_urls travel as one JSON array per post, since SQL arrays cannot be ragged.
INSERT_POSTS = """
WITH new AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(accounts)s::uuid[], %(texts)s::text[], %(media)s::text[],
                         %(links)s::text[], %(at)s::timestamptz[], %(keys)s::text[], %(slotted)s::bool[],
                         %(kinds)s::text[], %(reels)s::jsonb[], %(comments)s::text[])
        AS n(id, account_id, text, media, link, scheduled_at, idempotency_key, slotted, kind, reel, first_comment)
), inserted AS (
    INSERT INTO posts (id, tenant_id, account_id, text, media_urls, link, scheduled_at, idempotency_key,
                       trace_context, created_at, updated_at, slotted, slot_after, kind, reel, first_comment,
                       first_comment_status)
    SELECT id, %(tenant)s, account_id, text, ARRAY(SELECT jsonb_array_elements_text(media::jsonb)), link,
           scheduled_at, idempotency_key, %(trace_context)s, %(now)s, %(now)s, slotted, %(slot_after)s::timestamptz,
           kind, reel, first_comment, CASE WHEN first_comment IS NOT NULL THEN 'PENDING' END
    FROM new
    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, account_id, scheduled_at
)
INSERT INTO processing_logs (post_id, tenant_id, account_id, event, to_status, message, trace_id, created_at)
SELECT id, %(tenant)s, account_id, 'created', 'SCHEDULED', 'due at ' || scheduled_at, %(trace_id)s, %(now)s
FROM inserted
RETURNING post_id
"""

# The tenant's own post, by id: what the single-post transitions below pick.
ONE = "(SELECT %(id)s::uuid AS id, %(tenant)s::text AS tenant_id) AS one"
ONE_MATCH = "p.id = one.id AND p.tenant_id = one.tenant_id"

# The content columns a post's new content sets (UpdatePost, a recurring post's update).
SET_CONTENT = (
    "text = %(text)s, media_urls = %(media)s, link = %(link)s, kind = %(kind)s, reel = %(reel)s, "
    "first_comment = %(comment)s, first_comment_status = CASE WHEN %(comment)s::text IS NOT NULL THEN 'PENDING' END, "
    "first_comment_id = NULL, first_comment_error = NULL, first_comment_attempts = 0, "
    "media_checked_at = NULL"  # the media pre-flight checks the new media
)

UPDATE_CONTENT = move(
    source=ONE, match=ONE_MATCH, sources=(S,), target=S, event="updated", set=SET_CONTENT, returning="p.*",
    select=f"SELECT {COLUMNS} FROM moved",
)

RESCHEDULE = move(
    source=ONE, match=ONE_MATCH, sources=(S,), target=S, event="rescheduled",
    # A slotted post moved by hand leaves its slot (a reshuffle moves it onto a slot itself).
    set="scheduled_at = %(at)s, not_before = NULL, slotted = %(slotted)s", message="%(message)s", returning="p.*",
    select=f"SELECT {COLUMNS} FROM moved",
)

# A QUEUED post's message then finds it CANCELLED and is dropped.
CANCEL = move(
    before="""one AS (SELECT id, status FROM posts WHERE id = %(id)s AND tenant_id = %(tenant)s FOR UPDATE)""",
    source="one", match="p.id = one.id", sources=(S, Q), target=PostStatus.CANCELLED, event="cancelled",
    was="one.status", set="lease_owner = NULL, lease_expires_at = NULL", returning="p.*",
    select=f"SELECT {COLUMNS} FROM moved",
)

# Deleting an account cancels its posts not yet under way; one being published finishes.
CANCEL_ACCOUNT_POSTS = move(
    before="""doomed AS (SELECT id, status FROM posts WHERE account_id = %(account)s
                        AND status IN ('SCHEDULED', 'QUEUED', 'FAILED') FOR UPDATE)""",
    source="doomed", match="p.id = doomed.id", sources=(S, Q, PostStatus.FAILED), target=PostStatus.CANCELLED,
    event="cancelled", was="doomed.status", set="lease_owner = NULL, lease_expires_at = NULL",
    message="'the account was deleted'",
)


# Occurrences of a recurring post, created ahead by the horizon duty: unique per (recurring post,
# rule version, instant), so dispatchers racing each other create each once.
INSERT_OCCURRENCES = """
WITH inserted AS (
    INSERT INTO posts (id, tenant_id, account_id, text, media_urls, link, kind, reel, first_comment,
                       first_comment_status, scheduled_at, trace_context, created_at, updated_at, recurring_post_id,
                       occurrence_version, occurrence_time)
    SELECT gen_random_uuid(), %(tenant)s, %(account)s, %(text)s, %(media)s, %(link)s, %(kind)s, %(reel)s,
           %(comment)s, CASE WHEN %(comment)s::text IS NOT NULL THEN 'PENDING' END, at, %(trace_context)s,
           %(now)s, %(now)s, %(recurring)s, %(version)s, at
    FROM unnest(%(at)s::timestamptz[]) AS o(at)
    ON CONFLICT (recurring_post_id, occurrence_version, occurrence_time) WHERE recurring_post_id IS NOT NULL
    DO NOTHING
    RETURNING id, account_id, scheduled_at
)
INSERT INTO processing_logs (post_id, tenant_id, account_id, event, to_status, message, trace_id, created_at)
SELECT id, %(tenant)s, account_id, 'created', 'SCHEDULED', 'occurrence of recurring post ' || %(recurring)s
       || ', due at ' || scheduled_at, %(trace_id)s, %(now)s
FROM inserted
RETURNING post_id
"""

# A recurring post's occurrences not yet under way: cancelled with it (pause, new rule, cancel).
CANCEL_OCCURRENCES = move(
    before="""doomed AS (SELECT id, status FROM posts WHERE recurring_post_id = %(recurring)s
                        AND status IN ('SCHEDULED', 'QUEUED') FOR UPDATE)""",
    source="doomed", match="p.id = doomed.id", sources=(S, Q), target=PostStatus.CANCELLED,
    event="cancelled", was="doomed.status", set="lease_owner = NULL, lease_expires_at = NULL",
    message="%(reason)s",
)

# New content for a recurring post's occurrences still SCHEDULED.
UPDATE_OCCURRENCES = move(
    source="(SELECT %(recurring)s::uuid AS id) AS r", match="p.recurring_post_id = r.id",
    sources=(S,), target=S, event="updated", set=SET_CONTENT,
    message="'content of recurring post ' || r.id",
)


# SetPostingSchedule(reshuffle): the account's slotted SCHEDULED posts onto the new slots, in two
# statements, since a unique index is checked row by row: out of their slots, then into the new ones.
UNSLOT = "UPDATE posts SET slotted = false WHERE id = ANY(%(ids)s) AND status = 'SCHEDULED'"
RESLOT = move(
    source="unnest(%(ids)s::uuid[], %(at)s::timestamptz[]) AS r(id, at)", match="p.id = r.id",
    sources=(S,), target=S, event="rescheduled", set="scheduled_at = r.at, not_before = NULL, slotted = true",
    message="'from ' || p.scheduled_at || ' to the slot at ' || r.at || ' (posting schedule changed)'",
)


async def reslot(conn: Connection, moves: Sequence[tuple[uuid.UUID, datetime]], *, now: datetime) -> int:
    """Moves SCHEDULED posts onto slots (post id, slot instant); returns how many moved."""
    ids = [post_id for post_id, _ in moves]
    await conn.execute(UNSLOT, {"ids": ids})
    cur = await conn.execute(RESLOT, params(ids=ids, at=[at for _, at in moves], now=now))
    return len(await cur.fetchall())


async def forget_waits(conn: Connection, account_id: uuid.UUID) -> None:
    """The account's spacing changed: its SCHEDULED posts' not_before (the promised turns, or a
    publisher's deferral) are dropped, and the pacing duty says the new turns."""
    await conn.execute("UPDATE posts SET not_before = NULL WHERE account_id = %s AND status = 'SCHEDULED' "
                       "AND not_before IS NOT NULL", (account_id,))


async def insert_posts(conn: Connection, tenant_id: str, rows: Sequence[PostRecord], *, trace_context: str | None,
                       now: datetime, slot_after: datetime | None = None) -> set[uuid.UUID]:
    """Inserts new posts (INSERT_POSTS) on the caller's connection; returns the ids really inserted
    (a row whose idempotency key the tenant used already is not). slot_after: a slotted post's
    not-before (EnqueuePost), kept for a reshuffle."""
    cur = await conn.execute(
        INSERT_POSTS,
        {
            "ids": [r.id for r in rows],
            "accounts": [r.account_id for r in rows],
            "texts": [r.text for r in rows],
            "media": [json.dumps(r.media_urls) for r in rows],
            "links": [r.link for r in rows],
            "at": [r.scheduled_at for r in rows],
            "keys": [r.idempotency_key for r in rows],
            "slotted": [r.slotted for r in rows],
            "kinds": [r.kind for r in rows],
            "reels": [Jsonb(r.reel) if r.reel else None for r in rows],
            "comments": [r.first_comment or None for r in rows],
            "slot_after": slot_after,
            "tenant": tenant_id,
            "trace_context": trace_context,
            "trace_id": trace_id_of(trace_context) or current_trace_id(),
            "now": now,
        },
    )
    return {row["post_id"] for row in await cur.fetchall()}


def content_params(content: NewPost) -> dict[str, Any]:
    """A post's content as SET_CONTENT and INSERT_OCCURRENCES take it."""
    return {"text": content.text, "media": list(content.media_urls), "link": content.link, "kind": content.kind,
            "reel": Jsonb(content.reel) if content.reel else None, "comment": content.first_comment or None}


async def insert_occurrences(conn: Connection, *, tenant_id: str, recurring_id: uuid.UUID, version: int,
                             instants: Sequence[datetime], content: NewPost, trace_context: str | None,
                             now: datetime) -> int:
    """Creates the occurrences not created yet, each with `content`; returns how many were new."""
    if not instants:
        return 0
    cur = await conn.execute(INSERT_OCCURRENCES, {
        "tenant": tenant_id, "account": content.account_id, **content_params(content),
        "at": list(instants), "trace_context": trace_context, "now": now, "recurring": recurring_id,
        "version": version, "trace_id": trace_id_of(trace_context) or current_trace_id()})
    return len(await cur.fetchall())


async def cancel_occurrences(conn: Connection, recurring_id: uuid.UUID, *, reason: str, now: datetime) -> int:
    cur = await conn.execute(CANCEL_OCCURRENCES, params(recurring=recurring_id, reason=reason, now=now))
    return len(await cur.fetchall())


async def update_occurrences(conn: Connection, recurring_id: uuid.UUID, content: NewPost, *, now: datetime) -> int:
    cur = await conn.execute(UPDATE_OCCURRENCES, params(recurring=recurring_id, now=now, **content_params(content)))
    return len(await cur.fetchall())


def new_record(tenant_id: str, new: NewPost, scheduled_at: datetime, *, now: datetime) -> PostRecord:
    """The post `new` will be once inserted (CreatePost, BatchCreatePosts, EnqueuePost)."""
    return PostRecord(
        id=uuid.uuid4(), tenant_id=tenant_id, account_id=new.account_id, status="SCHEDULED", text=new.text,
        media_urls=list(new.media_urls), link=new.link, kind=new.kind, reel=new.reel,
        first_comment=new.first_comment or None, first_comment_status="PENDING" if new.first_comment else None,
        scheduled_at=scheduled_at, published_at=None, platform_post_id=None, attempts=0, last_error=None,
        idempotency_key=new.idempotency_key, created_at=now, updated_at=now,
    )


class PostStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def live_count(self, tenant_id: str) -> int:
        """The tenant's posts SCHEDULED, QUEUED or PUBLISHING, from the counters (exact at any moment)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""SELECT coalesce(sum(c.n), 0) AS n FROM {POST_COUNTS} c JOIN accounts a ON a.id = c.account_id
                    WHERE a.tenant_id = %s AND c.status IN ('SCHEDULED', 'QUEUED', 'PUBLISHING')""",
                (tenant_id,),
            )
            row = await cur.fetchone()
            return int(row["n"]) if row else 0

    async def create(
        self, tenant_id: str, new_posts: Sequence[NewPost], *, trace_context: str | None = None
    ) -> list[PostRecord]:
        """Creates the posts in one statement (so all or nothing); returns one record per input, in order.

        A post whose idempotency_key the tenant already used (before, concurrently, or earlier in
        this batch) is not created again: its slot holds the first post with that key.
        """
        now = self._clock.now()
        rows: list[PostRecord] = []
        first_with_key: dict[str, PostRecord] = {}
        for new in new_posts:
            key = new.idempotency_key
            if key and key in first_with_key:
                continue
            # Empty or past means as soon as possible: due now, so lateness counts from now.
            record = new_record(tenant_id, new, max(new.scheduled_at or now, now), now=now)
            rows.append(record)
            if key:
                first_with_key[key] = record
        async with self._db.connection() as conn:
            inserted = await insert_posts(conn, tenant_id, rows, trace_context=trace_context, now=now)
            # Keys used before (or by a concurrent call that committed first): return those posts.
            taken = [r.idempotency_key for r in rows if r.id not in inserted and r.idempotency_key]
            if taken:
                cur = await conn.execute(
                    f"SELECT {COLUMNS} FROM posts WHERE tenant_id = %s AND idempotency_key = ANY(%s)",
                    (tenant_id, taken),
                )
                for row in await cur.fetchall():
                    first_with_key[row["idempotency_key"]] = PostRecord.from_row(row)
        keyless = iter(r for r in rows if not r.idempotency_key)
        return [first_with_key[n.idempotency_key] if n.idempotency_key else next(keyless) for n in new_posts]

    async def get(self, tenant_id: str, post_id: uuid.UUID) -> PostRecord:
        async with self._db.connection() as conn:
            return await _get(conn, tenant_id, post_id)

    async def get_by_key(self, tenant_id: str, idempotency_key: str) -> PostRecord:
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM posts WHERE tenant_id = %s AND idempotency_key = %s", (tenant_id, idempotency_key)
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no post with that idempotency_key")
        return PostRecord.from_row(row)

    async def update_content(self, tenant_id: str, post_id: uuid.UUID, new: NewPost) -> PostRecord:
        """New content (text, media, link, kind, reel options, first comment), only while SCHEDULED:
        a compare-and-set on the status, so a post the dispatcher has leased (and the publisher may
        be sending) never changes."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(UPDATE_CONTENT, params(id=post_id, tenant=tenant_id, now=self._clock.now(),
                                                            **content_params(new)))
            row = await cur.fetchone()
            if row is None:
                current = await _get(conn, tenant_id, post_id)  # NOT_FOUND if it is not the tenant's
                raise FailedPrecondition(f"post {post_id} is {current.status}; only SCHEDULED posts can be updated")
        return PostRecord.from_row(row)

    async def list(
        self,
        tenant_id: str,
        *,
        status: str | None,
        account_id: uuid.UUID | None,
        limit: int,
        after: PageCursor | None,
        scheduled_from: datetime | None = None,
        scheduled_until: datetime | None = None,
        recurring_post_id: uuid.UUID | None = None,
    ) -> list[PostRecord]:
        """Up to `limit` posts ordered by (scheduled_at, id), after the cursor, in [from, until)."""
        where = ["tenant_id = %(tenant)s"]
        if status:
            where.append("status = %(status)s::post_status")
        if account_id:
            where.append("account_id = %(account)s")
        if after is not None:
            where.append("(scheduled_at, id) > (%(at)s, %(id)s)")
        if scheduled_from is not None:
            where.append("scheduled_at >= %(from)s")
        if scheduled_until is not None:
            where.append("scheduled_at < %(until)s")
        if recurring_post_id is not None:
            where.append("recurring_post_id = %(recurring)s")
        params = {"recurring": recurring_post_id, "tenant": tenant_id, "status": status, "account": account_id, "limit": limit,
                  "at": after.at if after else None, "id": after.id if after else None,
                  "from": scheduled_from, "until": scheduled_until}
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM posts WHERE {' AND '.join(where)} ORDER BY scheduled_at, id LIMIT %(limit)s",
                params,
            )
            return [PostRecord.from_row(r) for r in await cur.fetchall()]

    async def reschedule(self, tenant_id: str, post_id: uuid.UUID, at: datetime | None) -> PostRecord:
        """Moves a SCHEDULED post to a new time (None or past = now)."""
        now = self._clock.now()
        when = max(at or now, now)
        async with self._db.transaction() as conn:
            current = await _get(conn, tenant_id, post_id, lock=True)
            if current.status != "SCHEDULED":
                raise FailedPrecondition(f"post {post_id} is {current.status}; only SCHEDULED posts can be rescheduled")
            cur = await conn.execute(RESCHEDULE, params(
                id=post_id, tenant=tenant_id, at=when, now=now, slotted=False,
                message=f"from {current.scheduled_at.isoformat()} to {when.isoformat()}"))
            row = await cur.fetchone()
            assert row is not None  # the row is locked and SCHEDULED
        return PostRecord.from_row(row)

    async def cancel(self, tenant_id: str, post_id: uuid.UUID) -> PostRecord:
        """Cancels a SCHEDULED or QUEUED post. A QUEUED post's message finds it CANCELLED and is dropped.

        Cancelling a cancelled post returns it unchanged, so a client may retry the call.
        """
        now = self._clock.now()
        async with self._db.transaction() as conn:
            current = await _get(conn, tenant_id, post_id, lock=True)
            if current.status == "CANCELLED":
                return current
            if current.status not in (S, Q):
                raise FailedPrecondition(
                    f"post {post_id} is {current.status}; only SCHEDULED or QUEUED posts can be cancelled"
                )
            cur = await conn.execute(CANCEL, params(id=post_id, tenant=tenant_id, now=now))
            row = await cur.fetchone()
            assert row is not None  # the row is locked and cancellable
        return PostRecord.from_row(row)


async def _get(conn: Connection, tenant_id: str, post_id: uuid.UUID, *, lock: bool = False) -> PostRecord:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM posts WHERE id = %s AND tenant_id = %s" + (" FOR UPDATE" if lock else ""),
        (post_id, tenant_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"post {post_id} not found")
    return PostRecord.from_row(row)

