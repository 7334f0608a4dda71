"""Posting schedules: every write to posting_schedules, and the slot a post takes.

A schedule is an account's weekly local slots (postsched.slots). EnqueuePost takes the first slot
after a time that no live slotted post of the account holds. Enqueues of one account are serialised
by a lock on its schedule row (short: a read of the taken slots and one insert), and the unique
index posts_slot is the backstop: two posts never share a slot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from psycopg.types.json import Jsonb

from postsched.clock import Clock
from postsched.errors import FailedPrecondition, NotFound
from postsched.slots import WeeklySchedule
from postsched.store.database import Connection, Database
from postsched.store.posts import COLUMNS as POST_COLUMNS, insert_posts, reslot
from postsched.store.records import PostRecord

# Slots looked at per enqueue before giving up: an account holding this many future slots is full.
MAX_SLOTS_SEARCHED = 20_000
MAX_AHEAD = timedelta(days=400)
COLUMNS = "account_id, time_zone, slots, updated_at"


@dataclass(frozen=True)
class ScheduleRecord:
    account_id: uuid.UUID
    time_zone: str
    slots: list[tuple[int, str]]
    updated_at: datetime


class ScheduleStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def set(self, tenant_id: str, account_id: uuid.UUID, time_zone: str, slots: Sequence[tuple[int, str]],
                  schedule: WeeklySchedule | None, *, reshuffle: bool) -> ScheduleRecord:
        """Replaces the schedule (no slots: removes it). With reshuffle, the account's slotted posts
        still SCHEDULED move onto the new slots, in their order."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            await _account(conn, tenant_id, account_id)
            if schedule is None:
                await conn.execute("DELETE FROM posting_schedules WHERE account_id = %s", (account_id,))
                return ScheduleRecord(account_id, time_zone, [], now)
            await conn.execute(
                """INSERT INTO posting_schedules (account_id, tenant_id, time_zone, slots, updated_at)
                   VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (account_id) DO UPDATE SET time_zone = excluded.time_zone, slots = excluded.slots,
                                                          updated_at = excluded.updated_at""",
                (account_id, tenant_id, time_zone, Jsonb([list(s) for s in slots]), now))
            await _lock(conn, account_id)
            if reshuffle:
                await self._reshuffle(conn, account_id, schedule, now)
        return ScheduleRecord(account_id, time_zone, list(slots), now)

    async def _reshuffle(self, conn: Connection, account_id: uuid.UUID, schedule: WeeklySchedule, now: datetime) -> None:
        """Each slotted post still SCHEDULED, in its order, takes the first new slot after the one
        before it and after the time it was enqueued after (EnqueuePost's not_before is kept)."""
        cur = await conn.execute(
            """SELECT id, status::text AS status, scheduled_at, slot_after FROM posts
               WHERE account_id = %s AND slotted AND status IN ('SCHEDULED', 'QUEUED', 'PUBLISHING')
                 AND scheduled_at > %s ORDER BY scheduled_at, id FOR UPDATE""", (account_id, now))
        rows = await cur.fetchall()
        held = {r["scheduled_at"] for r in rows if r["status"] != "SCHEDULED"}  # on their way: they keep theirs
        moves: list[tuple[uuid.UUID, datetime]] = []
        previous = now
        for row in rows:
            if row["status"] != "SCHEDULED":
                continue
            (slot,) = _free(schedule, max(previous, row["slot_after"] or now), 1, lambda at: at in held)
            moves.append((row["id"], slot))
            previous = slot
        if moves:
            await reslot(conn, moves, now=now)

    async def get(self, tenant_id: str, account_id: uuid.UUID) -> ScheduleRecord | None:
        async with self._db.connection() as conn:
            await _account(conn, tenant_id, account_id)
            cur = await conn.execute(f"SELECT {COLUMNS} FROM posting_schedules WHERE account_id = %s", (account_id,))
            return _record(await cur.fetchone())

    async def enqueue(self, tenant_id: str, post: PostRecord, after: datetime,
                      schedule_of: Callable[[ScheduleRecord], WeeklySchedule], *, trace_context: str | None) -> PostRecord:
        """Creates `post` in the account's first free slot after `after` (its idempotency key used
        before: the first post, unchanged)."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            if post.idempotency_key:
                cur = await conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE tenant_id = %s AND idempotency_key = %s",
                                         (tenant_id, post.idempotency_key))
                row = await cur.fetchone()
                if row is not None:
                    return PostRecord.from_row(row)
            record = await _lock(conn, post.account_id)
            if record is None:
                raise FailedPrecondition(f"account {post.account_id} has no posting schedule; SetPostingSchedule first")
            cur = await conn.execute(
                """SELECT scheduled_at FROM posts WHERE account_id = %s AND slotted
                   AND status IN ('SCHEDULED', 'QUEUED', 'PUBLISHING') AND scheduled_at > %s""", (post.account_id, after))
            taken = {r["scheduled_at"] for r in await cur.fetchall()}
            (slot,) = _free(schedule_of(record), after, 1, lambda at: at in taken)
            if slot > now + MAX_AHEAD:  # as far as CreatePost may schedule
                raise FailedPrecondition(f"the first free slot, {slot.isoformat()}, is more than {MAX_AHEAD.days} days ahead")
            slotted = PostRecord(**{**post.__dict__, "scheduled_at": slot, "slotted": True})
            inserted = await insert_posts(conn, tenant_id, [slotted], trace_context=trace_context, now=now,
                                          slot_after=after)
            if slotted.id not in inserted:  # a call with the same key committed meanwhile: its post
                cur = await conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE tenant_id = %s AND idempotency_key = %s",
                                         (tenant_id, post.idempotency_key))
            else:
                cur = await conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE id = %s", (slotted.id,))
            row = await cur.fetchone()
            assert row is not None
            return PostRecord.from_row(row)

    async def upcoming(self, tenant_id: str, account_id: uuid.UUID, schedule: WeeklySchedule, count: int
                       ) -> list[tuple[datetime, PostRecord | None]]:
        """The next `count` slots after now, each with the live post filling it."""
        slots = schedule.after(self._clock.now(), count)
        if not slots:
            return []
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""SELECT {POST_COLUMNS} FROM posts WHERE account_id = %s AND tenant_id = %s AND slotted
                    AND status IN ('SCHEDULED', 'QUEUED', 'PUBLISHING', 'PUBLISHED') AND scheduled_at = ANY(%s)""",
                (account_id, tenant_id, slots))
            filled = {row["scheduled_at"]: PostRecord.from_row(row) for row in await cur.fetchall()}
        return [(at, filled.get(at)) for at in slots]


def _free(schedule: WeeklySchedule, after: datetime, count: int, taken: Callable[[datetime], bool]) -> list[datetime]:
    """The first `count` slots after `after` that are not taken."""
    free: list[datetime] = []
    cursor, searched = after, 0
    while len(free) < count:
        batch = schedule.after(cursor, 500)
        if not batch or searched >= MAX_SLOTS_SEARCHED:
            raise FailedPrecondition(f"no free slot in the next {searched} slots of the posting schedule")
        free.extend(at for at in batch if not taken(at))
        searched += len(batch)
        cursor = batch[-1]
    return free[:count]


async def _lock(conn: Connection, account_id: uuid.UUID) -> ScheduleRecord | None:
    cur = await conn.execute(f"SELECT {COLUMNS} FROM posting_schedules WHERE account_id = %s FOR UPDATE", (account_id,))
    return _record(await cur.fetchone())


def _record(row: Mapping[str, Any] | None) -> ScheduleRecord | None:
    if row is None:
        return None
    return ScheduleRecord(row["account_id"], row["time_zone"], [(int(d), str(t)) for d, t in row["slots"]], row["updated_at"])


async def _account(conn: Connection, tenant_id: str, account_id: uuid.UUID) -> None:
    cur = await conn.execute("SELECT 1 FROM accounts WHERE id = %s AND tenant_id = %s AND deleted_at IS NULL",
                             (account_id, tenant_id))
    if await cur.fetchone() is None:
        raise NotFound(f"account {account_id} not found")
