"""Event callbacks: each tenant's webhook, its delivery cursor, and the log of every attempt.

Delivery is in sequence order per tenant (so in order per post): the next event waits until the
one before it was delivered or given up. The tenant's row stays locked while a deliverer works
on it, so two publishers never deliver the same tenant's events side by side.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from postsched.store.database import Database
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


Deliver = Callable[[WebhookRecord, EventRecord], Awaitable[Attempt]]
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
                f"""INSERT INTO event_webhooks (tenant_id, url, secret, delivered, created_at, updated_at)
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

    async def deliver_next_tenant(
        self, deliver: Deliver, *, now: Callable[[], datetime], backoff: Callable[[int], float],
        give_up_after: timedelta, limit: int, skip: set[str],
    ) -> tuple[str | None, int]:
        """Delivers up to `limit` events of one tenant whose retry time has come (not in `skip`),
        in order, stopping at the first failure; returns (the tenant, or None when no tenant is
        due, how many events were delivered or given up)."""
        done = 0
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"""SELECT {COLUMNS} FROM event_webhooks w
                    WHERE delivered < coalesce((SELECT last FROM event_sequences s WHERE s.tenant_id = w.tenant_id), 0)
                      AND (next_attempt_at IS NULL OR next_attempt_at <= %s) AND NOT tenant_id = ANY(%s)
                    ORDER BY tenant_id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                (now(), list(skip)),
            )
            row = await cur.fetchone()
            if row is None:
                return None, 0
            for hook in [WebhookRecord(**row)]:
                events = await events_after(conn, hook.tenant_id, hook.delivered, types=(), account_id=None, limit=limit)
                attempts, first = hook.head_attempts, hook.head_first_attempt_at
                delivered_to = hook.delivered
                next_at, last_error = None, hook.last_error
                for event in events:
                    at = now()
                    first = first or at
                    attempts += 1
                    result = await deliver(hook, event)
                    outcome = "delivered" if result.delivered else (
                        "given_up" if at - first >= give_up_after else "retrying")
                    await conn.execute(
                        """INSERT INTO event_deliveries (tenant_id, event_id, sequence, type, attempt, outcome,
                               status_code, error, duration_ms, at)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                        (hook.tenant_id, event.event_id, event.sequence, event.type, attempts, outcome,
                         result.status_code, result.error, result.duration_ms, at),
                    )
                    if outcome == "retrying":
                        next_at, last_error = at + timedelta(seconds=backoff(attempts)), result.error
                        break
                    delivered_to, attempts, first = event.sequence, 0, None
                    last_error = result.error if outcome == "given_up" else None
                    done += 1
                await conn.execute(
                    """UPDATE event_webhooks SET delivered = %s, head_attempts = %s, head_first_attempt_at = %s,
                           next_attempt_at = %s, last_error = %s WHERE tenant_id = %s""",
                    (delivered_to, attempts, first, next_at, last_error, hook.tenant_id),
                )
        return hook.tenant_id, done
