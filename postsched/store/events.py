"""Post events as a backend reads them: per tenant, in sequence order, from a cursor.

The rows are written by a trigger on processing_logs (migration 0006), in the transaction of the
change they describe; this module only reads them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence

from postsched.store.database import Connection, Database
from postsched.store.posts import COLUMNS as POST_COLUMNS
from postsched.store.records import PostRecord

EVENT_TYPES = (
    "post.published", "post.failed", "post.cancelled", "post.rescheduled", "post.retried", "post.waiting",
    "account.needs_credentials", "account.credentials_updated",
)


@dataclass(frozen=True)
class EventRecord:
    event_id: uuid.UUID
    sequence: int
    type: str
    tenant_id: str
    post_id: uuid.UUID | None
    account_id: uuid.UUID | None
    occurred_at: datetime
    message: str
    data: dict[str, Any]  # the post's status, attempts, scheduled_at, platform_post_id at the time
    post: PostRecord | None = None  # the post as it is now (None for account events, or deleted)


class EventStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def after(
        self, tenant_id: str, after_sequence: int, *, types: Sequence[str], account_id: uuid.UUID | None, limit: int
    ) -> list[EventRecord]:
        """Up to `limit` of the tenant's events after the cursor, oldest first, with their posts."""
        async with self._db.connection() as conn:
            return await events_after(conn, tenant_id, after_sequence, types=types, account_id=account_id, limit=limit)

    async def relay(self, publish: Callable[[list[EventRecord]], Awaitable[int]], *, limit: int) -> int:
        """Hands each tenant's events not yet relayed to `publish` (in order), which returns how
        many of them, from the first, went out; moves the tenant's relay cursor past those, and
        stops the round at a tenant whose events did not all go. A tenant's cursor row stays locked meanwhile, so two
        relays (two dispatchers) never publish the same tenant's events side by side; a relay that
        dies after publishing re-sends, and the stream's duplicate window drops the copies."""
        relayed = 0
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                """SELECT s.tenant_id FROM event_sequences s LEFT JOIN event_relay r USING (tenant_id)
                   WHERE s.last > coalesce(r.relayed, 0) ORDER BY s.tenant_id"""
            )
            behind = [r["tenant_id"] for r in await cur.fetchall()]
            if not behind:
                return 0
            await conn.execute(
                "INSERT INTO event_relay (tenant_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (behind,)
            )
            cur = await conn.execute(
                """SELECT tenant_id, relayed FROM event_relay WHERE tenant_id = ANY(%s)
                   ORDER BY tenant_id FOR UPDATE SKIP LOCKED""",
                (behind,),
            )
            for row in await cur.fetchall():
                events = await events_after(conn, row["tenant_id"], row["relayed"], types=(), account_id=None, limit=limit)
                if not events:
                    continue
                sent = await publish(events)
                if sent:
                    await conn.execute(
                        "UPDATE event_relay SET relayed = %s WHERE tenant_id = %s",
                        (events[sent - 1].sequence, row["tenant_id"]),
                    )
                relayed += sent
                if sent < len(events):
                    break
        return relayed


async def events_after(
    conn: Connection, tenant_id: str, after_sequence: int, *, types: Sequence[str], account_id: uuid.UUID | None,
    limit: int,
) -> list[EventRecord]:
    """Up to `limit` of a tenant's events after a sequence, oldest first, with their posts, on conn."""
    where = ["tenant_id = %(tenant)s", "sequence > %(after)s"]
    if types:
        where.append("type = ANY(%(types)s)")
    if account_id:
        where.append("account_id = %(account)s")
    params = {"tenant": tenant_id, "after": after_sequence, "types": list(types), "account": account_id, "limit": limit}
    cur = await conn.execute(
        f"""SELECT event_id, sequence, type, tenant_id, post_id, account_id, occurred_at, message, data
            FROM events WHERE {' AND '.join(where)} ORDER BY sequence LIMIT %(limit)s""",
        params,
    )
    rows = await cur.fetchall()
    post_ids = list({r["post_id"] for r in rows if r["post_id"]})
    posts: dict[uuid.UUID, PostRecord] = {}
    if post_ids:
        cur = await conn.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE tenant_id = %s AND id = ANY(%s)", (tenant_id, post_ids)
        )
        posts = {p.id: p for p in (PostRecord.from_row(r) for r in await cur.fetchall())}
    return [EventRecord(**r, post=posts.get(r["post_id"])) for r in rows]
