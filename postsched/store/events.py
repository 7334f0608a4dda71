"""Post events as a backend reads them: per tenant, in sequence order, from a cursor.

The rows are written by a trigger on processing_logs (migration 0006), in the transaction of the
change they describe; this module reads them, relays them, and clears old ones away.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence

from postsched.store import leases
from postsched.store.database import Connection, Database
from postsched.store.posts import COLUMNS as POST_COLUMNS
from postsched.store.records import PostRecord

RELAY_TENANTS = 50  # tenants a relay leases per round
CLEAR_BATCH = 1000  # events deleted per transaction

# Events older than the cutoff, except those the tenant's webhook has not delivered yet.
CLEAR_BEFORE = f"""
WITH doomed AS (
    SELECT e.tenant_id, e.sequence FROM events e
    LEFT JOIN event_webhooks w ON w.tenant_id = e.tenant_id
    WHERE e.occurred_at < %(cutoff)s AND (w.tenant_id IS NULL OR e.sequence <= w.delivered)
    LIMIT {CLEAR_BATCH}
)
DELETE FROM events e USING doomed
WHERE e.tenant_id = doomed.tenant_id AND e.sequence = doomed.sequence RETURNING e.sequence
"""


async def clear_before(conn: Connection, cutoff: datetime) -> int:
    """Deletes up to CLEAR_BATCH events older than `cutoff` that no webhook still owes; how many."""
    cur = await conn.execute(CLEAR_BEFORE, {"cutoff": cutoff})
    return len(await cur.fetchall())

EVENT_TYPES = (
    "post.published", "post.failed", "post.cancelled", "post.rescheduled", "post.retried", "post.waiting", "post.skipped",
    "account.needs_credentials", "account.credentials_updated", "recurring_post.ended",
    "post.first_comment_published", "post.first_comment_failed", "post.media_unreachable",
    "account.credentials_expiring",
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

    async def last_sequence(self, tenant_id: str) -> int:
        """The tenant's newest event's sequence (0: none yet)."""
        async with self._db.connection() as conn:
            cur = await conn.execute("SELECT last FROM event_sequences WHERE tenant_id = %s", (tenant_id,))
            row = await cur.fetchone()
            return int(row["last"]) if row else 0

    async def relay(
        self, publish: Callable[[list[EventRecord]], Awaitable[int]], *, owner: str, now: datetime, lease: float,
        limit: int,
    ) -> int:
        """Hands each tenant's events not yet relayed to `publish` (in order), which returns how
        many of them, from the first, went out; moves the tenant's relay cursor past those, and
        stops the round at a tenant whose events did not all go. Tenants are leased first, in one
        short statement, so two relays (two dispatchers) never publish the same tenant's events
        side by side, and no transaction is open while NATS is called; a relay that dies after
        publishing re-sends, and the stream's duplicate window drops the copies."""
        async with self._db.connection() as conn:
            await conn.execute(
                """INSERT INTO event_relay (tenant_id)
                   SELECT s.tenant_id FROM event_sequences s LEFT JOIN event_relay r USING (tenant_id)
                   WHERE r.tenant_id IS NULL ON CONFLICT DO NOTHING"""
            )
            cur = await conn.execute(
                f"""WITH behind AS (
                       SELECT r.tenant_id FROM event_relay r JOIN event_sequences s USING (tenant_id)
                       WHERE s.last > r.relayed AND (r.lease_expires_at IS NULL OR r.lease_expires_at <= %(now)s)
                       ORDER BY r.tenant_id LIMIT %(tenants)s FOR UPDATE OF r SKIP LOCKED
                   )
                   UPDATE event_relay r SET lease_owner = %(owner)s, lease_expires_at = {leases.ends("%(lease)s")}
                   FROM behind WHERE r.tenant_id = behind.tenant_id
                   RETURNING r.tenant_id, r.relayed""",
                {"now": now, "owner": owner, "lease": lease, "tenants": RELAY_TENANTS},
            )
            leased = sorted((row["tenant_id"], row["relayed"]) for row in await cur.fetchall())
        relayed, cursors = 0, dict(leased)
        leased_until = time.monotonic() + lease / 2  # past this another relay may hold them: stop
        try:
            for tenant_id, cursor in leased:
                if time.monotonic() > leased_until:
                    break
                async with self._db.connection() as conn:
                    events = await events_after(conn, tenant_id, cursor, types=(), account_id=None, limit=limit)
                sent = await publish(events) if events else 0
                if sent:
                    cursors[tenant_id] = events[sent - 1].sequence
                relayed += sent
                if sent < len(events):
                    break
        finally:  # every lease given back, the cursors moved past what went out
            async with self._db.connection() as conn:
                await conn.execute(
                    """UPDATE event_relay r SET relayed = greatest(r.relayed, c.relayed), lease_owner = NULL,
                           lease_expires_at = NULL
                       FROM unnest(%s::text[], %s::bigint[]) AS c(tenant_id, relayed)
                       WHERE r.tenant_id = c.tenant_id AND r.lease_owner = %s""",
                    (list(cursors), list(cursors.values()), owner),
                )
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
