"""Posts as the scheduler sees them: create (idempotent, batched), read, list, reschedule, cancel.

Every state change is a compare-and-set on `status`, written to the processing log in the same
transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postsched.clock import Clock
from postsched.errors import FailedPrecondition, NotFound
from postsched.store import processing_log
from postsched.store.connection import transaction
from postsched.store.records import NewPost, PageCursor, PostRecord
from postsched.store.schema import posts

POST_COLUMNS = [posts.c[name] for name in PostRecord.__dataclass_fields__]
CANCELLABLE = ("SCHEDULED", "QUEUED")


class PostStore:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def create(
        self, tenant_id: str, new_posts: Sequence[NewPost], *, trace_context: str | None = None
    ) -> list[PostRecord]:
        """Creates the posts in one transaction, all or nothing; returns one record per input, in order.

        A post whose idempotency_key the tenant already used (before, concurrently, or earlier in
        this batch) is not created again: its slot holds the first post with that key.
        """
        now = self._clock.now()
        async with transaction(self._engine) as conn:
            keys = {p.idempotency_key for p in new_posts if p.idempotency_key}
            by_key = await self._by_keys(conn, tenant_id, keys) if keys else {}
            rows: list[dict[str, Any]] = []
            # Per input: ("key", idempotency_key) or ("id", new post id), resolved at the end.
            slots: list[tuple[str, Any]] = []
            for new in new_posts:
                key = new.idempotency_key
                if key and key in by_key:
                    slots.append(("key", key))
                    continue
                row = {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "account_id": new.account_id,
                    "status": "SCHEDULED",
                    "text": new.text,
                    "media_urls": list(new.media_urls),
                    "link": new.link,
                    # Empty or past means as soon as possible: due now, so lateness is measured from now.
                    "scheduled_at": max(new.scheduled_at or now, now),
                    "published_at": None,
                    "platform_post_id": None,
                    "attempts": 0,
                    "last_error": None,
                    "idempotency_key": key,
                    "trace_context": trace_context,
                    "created_at": now,
                    "updated_at": now,
                }
                rows.append(row)
                if key:
                    by_key[key] = None  # reserved by this batch; filled below
                    slots.append(("key", key))
                else:
                    slots.append(("id", row["id"]))
            inserted = await self._insert(conn, rows)
            # Keys another transaction committed first: return that transaction's posts.
            lost = {r["idempotency_key"] for r in rows if r["id"] not in inserted and r["idempotency_key"]}
            if lost:
                by_key.update(await self._by_keys(conn, tenant_id, lost))
            records = {r["id"]: PostRecord.from_row(r) for r in rows if r["id"] in inserted}
            for record in records.values():
                if record.idempotency_key:
                    by_key[record.idempotency_key] = record
            await processing_log.append(
                conn,
                [
                    {
                        "post_id": r.id,
                        "tenant_id": tenant_id,
                        "account_id": r.account_id,
                        "event": "created",
                        "to_status": "SCHEDULED",
                        "message": f"scheduled for {r.scheduled_at.isoformat()}",
                    }
                    for r in records.values()
                ],
            )
        return [by_key[value] if kind == "key" else records[value] for kind, value in slots]  # type: ignore[misc]

    async def _insert(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
        if not rows:
            return set()
        stmt = (
            insert(posts)
            .on_conflict_do_nothing(
                index_elements=[posts.c.tenant_id, posts.c.idempotency_key],
                index_where=posts.c.idempotency_key.isnot(None),
            )
            .returning(posts.c.id)
        )
        result = await conn.execute(stmt, rows)
        return {row.id for row in result}

    async def _by_keys(self, conn: AsyncConnection, tenant_id: str, keys: set[str]) -> dict[str, PostRecord | None]:
        stmt = select(*POST_COLUMNS).where(posts.c.tenant_id == tenant_id, posts.c.idempotency_key.in_(keys))
        return {r["idempotency_key"]: PostRecord.from_row(r) for r in (await conn.execute(stmt)).mappings()}

    async def get(self, tenant_id: str, post_id: uuid.UUID) -> PostRecord:
        async with transaction(self._engine) as conn:
            return await self._get(conn, tenant_id, post_id)

    async def _get(self, conn: AsyncConnection, tenant_id: str, post_id: uuid.UUID, *, lock: bool = False) -> PostRecord:
        stmt = select(*POST_COLUMNS).where(posts.c.id == post_id, posts.c.tenant_id == tenant_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            raise NotFound(f"post {post_id} not found")
        return PostRecord.from_row(row)

    async def list(
        self,
        tenant_id: str,
        *,
        status: str | None,
        account_id: uuid.UUID | None,
        limit: int,
        after: PageCursor | None,
    ) -> list[PostRecord]:
        """Up to `limit` posts ordered by (scheduled_at, id), after the cursor."""
        stmt = select(*POST_COLUMNS).where(posts.c.tenant_id == tenant_id)
        if status:
            stmt = stmt.where(posts.c.status == status)
        if account_id:
            stmt = stmt.where(posts.c.account_id == account_id)
        if after is not None:
            stmt = stmt.where(tuple_(posts.c.scheduled_at, posts.c.id) > tuple_(after.at, after.id))
        stmt = stmt.order_by(posts.c.scheduled_at, posts.c.id).limit(limit)
        async with transaction(self._engine) as conn:
            return [PostRecord.from_row(r) for r in (await conn.execute(stmt)).mappings()]

    async def reschedule(self, tenant_id: str, post_id: uuid.UUID, at: datetime | None) -> PostRecord:
        """Moves a SCHEDULED post to a new time (None or past = now)."""
        now = self._clock.now()
        when = max(at or now, now)
        async with transaction(self._engine) as conn:
            current = await self._get(conn, tenant_id, post_id, lock=True)
            if current.status != "SCHEDULED":
                raise FailedPrecondition(
                    f"post {post_id} is {current.status}; only SCHEDULED posts can be rescheduled"
                )
            stmt = (
                update(posts)
                .where(posts.c.id == post_id, posts.c.status == "SCHEDULED")
                .values(scheduled_at=when, updated_at=now)
                .returning(*POST_COLUMNS)
            )
            row = (await conn.execute(stmt)).mappings().one()
            await processing_log.append(
                conn,
                [
                    {
                        "post_id": post_id,
                        "tenant_id": tenant_id,
                        "account_id": current.account_id,
                        "event": "rescheduled",
                        "from_status": "SCHEDULED",
                        "to_status": "SCHEDULED",
                        "message": f"from {current.scheduled_at.isoformat()} to {when.isoformat()}",
                    }
                ],
            )
        return PostRecord.from_row(row)

    async def cancel(self, tenant_id: str, post_id: uuid.UUID) -> PostRecord:
        """Cancels a SCHEDULED or QUEUED post. A QUEUED post's message finds it CANCELLED and is dropped.

        Cancelling a cancelled post returns it unchanged, so a client may retry the call.
        """
        now = self._clock.now()
        async with transaction(self._engine) as conn:
            current = await self._get(conn, tenant_id, post_id, lock=True)
            if current.status == "CANCELLED":
                return current
            if current.status not in CANCELLABLE:
                raise FailedPrecondition(
                    f"post {post_id} is {current.status}; only SCHEDULED or QUEUED posts can be cancelled"
                )
            stmt = (
                update(posts)
                .where(posts.c.id == post_id, posts.c.status.in_(CANCELLABLE))
                .values(status="CANCELLED", lease_owner=None, lease_expires_at=None, updated_at=now)
                .returning(*POST_COLUMNS)
            )
            row = (await conn.execute(stmt)).mappings().one()
            await processing_log.append(
                conn,
                [
                    {
                        "post_id": post_id,
                        "tenant_id": tenant_id,
                        "account_id": current.account_id,
                        "event": "cancelled",
                        "from_status": current.status,
                        "to_status": "CANCELLED",
                    }
                ],
            )
        return PostRecord.from_row(row)

