"""Event callbacks: each tenant's webhook, its delivery cursor, and the log of every attempt.

Delivery is in sequence order per tenant (so in order per post): the next event waits until the
one before it was delivered or given up. A deliverer leases a tenant in one short transaction
(`lease_due`), calls the webhook with no transaction open, and records the round in another
(`record_round`, a compare-and-set on its lease): no row is locked while the network is slow, two
publishers never deliver one tenant's events side by side, and tenants are delivered side by side.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from postsched.store import leases
from postsched.store.database import Connection, Database
from postsched.store.events import EventRecord, events_after


@dataclass(frozen=True)
class WebhookRecord:
    tenant_id: str
    url: str
    secret: bytes  # sealed
    delivered: int
    head_attempts: int
    head_first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    updated_at: datetime
    pending: int = 0


@dataclass(frozen=True)
class Attempt:
    """What one POST of one event gave."""

    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    event_id: uuid.UUID
    sequence: int
    type: str
    attempt: int
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int
    at: datetime


@dataclass(frozen=True)
class DeliveryAttempt:
    """One attempt at one event, as logged in event_deliveries."""

    event_id: uuid.UUID
    sequence: int
    type: str
    attempt: int
    outcome: str  # delivered, retrying, given_up
    status_code: int | None
    error: str | None
    duration_ms: int
    at: datetime


@dataclass(frozen=True)
class DeliveryRound:
    """What a deliverer did with a tenant's events in one lease: the attempts, and the cursor after."""

    attempts: list[DeliveryAttempt]
    delivered: int
    head_attempts: int
    head_first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


COLUMNS = "tenant_id, url, secret, delivered, head_attempts, head_first_attempt_at, next_attempt_at, last_error, updated_at"


class EventWebhookStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, tenant_id: str, url: str, sealed_secret: bytes, now: datetime) -> WebhookRecord | None:
        """Sets (or with url="" removes) the webhook. A new one starts after the events so far."""
        async with self._db.transaction() as conn:
            if not url:
                await conn.execute("DELETE FROM event_webhooks WHERE tenant_id = %s", (tenant_id,))
                return None
            await conn.execute(
                """INSERT INTO event_webhooks (tenant_id, url, secret, delivered, created_at, updated_at)
                    VALUES (%(tenant)s, %(url)s, %(secret)s,
                            coalesce((SELECT last FROM event_sequences WHERE tenant_id = %(tenant)s), 0), %(now)s, %(now)s)
                    ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
                        next_attempt_at = NULL, updated_at = excluded.updated_at""",
                {"tenant": tenant_id, "url": url, "secret": sealed_secret, "now": now},
            )
        return await self.get(tenant_id)

    async def get(self, tenant_id: str) -> WebhookRecord | None:
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""SELECT {COLUMNS}, greatest(coalesce((SELECT last FROM event_sequences s
                                                         WHERE s.tenant_id = w.tenant_id), 0) - delivered, 0) AS pending
                    FROM event_webhooks w WHERE tenant_id = %s""",
                (tenant_id,),
            )
            row = await cur.fetchone()
        return WebhookRecord(**row) if row else None

    async def deliveries(self, tenant_id: str, *, limit: int, before_id: int | None) -> list[DeliveryRecord]:
        async with self._db.connection() as conn:
            cur = await conn.execute(
                """SELECT id, event_id, sequence, type, attempt, outcome, status_code, error, duration_ms, at
                   FROM event_deliveries WHERE tenant_id = %s AND (%s::bigint IS NULL OR id < %s)
                   ORDER BY id DESC LIMIT %s""",
                (tenant_id, before_id, before_id, limit),
            )
            return [DeliveryRecord(**r) for r in await cur.fetchall()]

    async def lease_due(
        self, *, owner: str, now: datetime, lease: float, limit: int, skip: Sequence[str] = ()
    ) -> list[WebhookRecord]:
        """Leases up to `limit` tenants with events to deliver whose retry time has come (not in
        `skip`), the longest unleased first (so tenants take turns), each for `lease` seconds."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""WITH due AS (
                        SELECT tenant_id FROM event_webhooks w
                        WHERE delivered < coalesce((SELECT last FROM event_sequences s WHERE s.tenant_id = w.tenant_id), 0)
                          AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
                          AND (lease_expires_at IS NULL OR lease_expires_at <= %(now)s)
                          AND NOT tenant_id = ANY(%(skip)s)
                        ORDER BY lease_expires_at NULLS FIRST, tenant_id
                        LIMIT %(limit)s
                        FOR UPDATE SKIP LOCKED
                    )
                    UPDATE event_webhooks w SET lease_owner = %(owner)s,
                        lease_expires_at = {leases.ends("%(lease)s")}
                    FROM due WHERE w.tenant_id = due.tenant_id
                    RETURNING {', '.join('w.' + c.strip() for c in COLUMNS.split(','))}""",
                {"now": now, "skip": list(skip), "limit": limit, "owner": owner, "lease": lease},
            )
            return [WebhookRecord(**row) for row in await cur.fetchall()]

    async def pending_events(self, hook: WebhookRecord, *, limit: int) -> list[EventRecord]:
        """The tenant's next events to deliver, oldest first."""
        async with self._db.connection() as conn:
            return await events_after(conn, hook.tenant_id, hook.delivered, types=(), account_id=None, limit=limit)

    async def record_round(self, hook: WebhookRecord, round_: DeliveryRound, *, owner: str, now: datetime) -> bool:
        """Writes a round's attempts and moves the tenant's cursor, and gives the lease back (its
        time stays as when the tenant last had its turn). False if the lease was lost meanwhile
        (the attempts are logged, the cursor left to the new holder)."""
        async with self._db.transaction() as conn:
            if round_.attempts:
                await conn.execute(
                    """INSERT INTO event_deliveries (tenant_id, event_id, sequence, type, attempt, outcome,
                           status_code, error, duration_ms, at)
                       SELECT %s, * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::int[], %s::text[], %s::int[],
                                                %s::text[], %s::int[], %s::timestamptz[])""",
                    (hook.tenant_id, *map(list, zip(*[(a.event_id, a.sequence, a.type, a.attempt, a.outcome,
                                                        a.status_code, a.error, a.duration_ms, a.at)
                                                       for a in round_.attempts]))),
                )
            cur = await conn.execute(
                """UPDATE event_webhooks SET delivered = %s, head_attempts = %s, head_first_attempt_at = %s,
                       next_attempt_at = %s, last_error = %s, lease_owner = NULL, lease_expires_at = %s
                   WHERE tenant_id = %s AND lease_owner = %s""",
                (round_.delivered, round_.head_attempts, round_.head_first_attempt_at, round_.next_attempt_at,
                 round_.last_error, now, hook.tenant_id, owner),
            )
            return cur.rowcount == 1


async def clear_deliveries_before(conn: Connection, cutoff: datetime) -> None:
    """Forgets delivery attempts older than `cutoff` (the events they delivered are cleared too)."""
    await conn.execute("DELETE FROM event_deliveries WHERE at < %s", (cutoff,))
