"""The dispatcher's SQL: lease due posts, record hand-overs, release and rescue leases.

Each operation is one statement over a whole batch, with its audit entries written by the same
statement. Every change is a compare-and-set on (status, dispatch_generation).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from postsched.keys import MessageKey
from postsched.lifecycle import SKIPPED, PostStatus
from postsched.store import accounts, leases
from postsched.store.counters import POST_COUNTS
from postsched.store.database import Database
from postsched.store.posts.transitions import OWN_TRACE_ID, move, params

S, Q = PostStatus.SCHEDULED, PostStatus.QUEUED


@dataclass(frozen=True)
class LeasedPost:
    id: uuid.UUID
    tenant_id: str
    account_id: uuid.UUID
    platform: str
    generation: int
    scheduled_at: datetime
    trace_context: str | None
    # When to hand it over: its scheduled time, or later if the platform asked its account to wait
    # or a publisher gave the post back until then (not_before).
    due_at: datetime
    # Its place in the turns of due posts (DUE_IN_TURNS); 0 when leased in time order.
    turn: int = 0

    @property
    def message(self) -> MessageKey:
        return MessageKey(self.id, self.generation)


# Missed: an occurrence no dispatcher has seen due (never tried, never given a turn or a deferral:
# not_before NULL) and more than the grace late.
NOT_MISSED = ("({p}.recurring_post_id IS NULL OR {p}.attempts > 0 OR {p}.not_before IS NOT NULL"
              " OR {p}.scheduled_at >= %(skip_before)s)")

# A post is due at greatest(scheduled_at, not_before): the posts_due index is on that expression.
# Leasable: due by the horizon, of an account neither paused (operators), disabled (tenant),
# waiting for new credentials, nor asked by the platform to wait past the horizon.
# Accounts with a min_post_interval are leased one post at a time by LEASE_PACED instead. An
# occurrence of a recurring post never tried and more than the missed-occurrence grace late
# (skip_before) is not leased: SKIP_MISSED records it as skipped (no burst after an outage).
LEASABLE = f"""
    p.status = 'SCHEDULED' AND greatest(p.scheduled_at, p.not_before) <= %(horizon)s
    AND NOT a.paused AND NOT a.disabled AND NOT a.needs_credentials
    AND (a.throttled_until IS NULL OR a.throttled_until <= %(horizon)s)
    AND a.min_post_interval = '0'::interval AND a.deleted_at IS NULL AND {NOT_MISSED.format(p="p")}
"""

# SCHEDULED -> QUEUED under a new generation for the rows of `due` (id, due_at, turn), logged.
def _lease(due: str, after_moved: str = "") -> str:
    return move(
        before=due, source="due", match="p.id = due.id", sources=(S,), target=Q, event="queued",
        set=f"""dispatch_generation = p.dispatch_generation + 1, lease_owner = %(owner)s,
               lease_expires_at = {leases.DISPATCH},
               handed_over_at = NULL, stream_seq = NULL, not_before = NULL""",
        message="'leased by ' || %(owner)s || ', generation ' || p.dispatch_generation",
        returning="p.dispatch_generation, p.scheduled_at, p.trace_context, due.due_at, due.turn",
        select=after_moved + """
                  SELECT l.log_post_id AS id, l.log_tenant_id AS tenant_id, l.log_account_id AS account_id,
                         a.platform::text AS platform, l.dispatch_generation AS generation, l.scheduled_at,
                         l.trace_context, l.due_at, l.turn
                  FROM moved l JOIN accounts a ON a.id = l.log_account_id""",
    )


# Due posts, oldest first; SKIP LOCKED lets any number of dispatchers lease side by side without
# ever sharing a row. A post of an account the platform asked to wait (throttled_until) is due
# when the wait ends.
LEASE = _lease(f"""due AS (
    SELECT p.id, greatest(p.scheduled_at, p.not_before, a.throttled_until) AS due_at, 0 AS turn
    FROM posts p JOIN accounts a ON a.id = p.account_id
    WHERE {LEASABLE}
    ORDER BY greatest(p.scheduled_at, p.not_before)
    LIMIT %(batch)s
    FOR UPDATE OF p SKIP LOCKED
)""")

# When more posts are overdue than one lease takes (a burst, the catch-up after an outage), the
# posts due by a near horizon in turns, so a big account's burst does not push a small account to
# the back: each tenant's posts are numbered round-robin over its accounts (each account in its own
# order), and the order takes every tenant's first, then every tenant's second, ... (postsched/turns.py
# is the same order in Python). One read sorts the whole set (about 5 us a post); the dispatcher
# then leases it in that order, a batch at a time.
DUE_IN_TURNS = f"""
SELECT id FROM (
    SELECT id, at, account_turn, row_number() OVER (PARTITION BY tenant_id ORDER BY account_turn, at, id) AS tenant_turn
    FROM (
        SELECT p.id, p.tenant_id, greatest(p.scheduled_at, p.not_before) AS at,
               row_number() OVER (PARTITION BY p.account_id ORDER BY greatest(p.scheduled_at, p.not_before), p.id)
                   AS account_turn
        FROM posts p JOIN accounts a ON a.id = p.account_id
        WHERE {LEASABLE}
    ) ranked
) turns
ORDER BY tenant_turn, account_turn, at, id
LIMIT %(limit)s
"""

# A paced account (min_post_interval > 0) has at most one post leased or being published. Its
# turn, next_post_at, is set by the lease (the leased post's due time plus the interval) and again by
# the claim (the platform call's start plus the interval). Two statements in one transaction: the
# first locks the paced accounts with a post due (SKIP LOCKED: dispatchers side by side take
# different ones); the second, with a snapshot taken after those locks, checks that none of the
# account's posts is in flight (its counters) and leases its first SCHEDULED post in order
# (scheduled_at, id: a post given back waits in its place) if due by the horizon.
LOCK_PACED = """
SELECT a.id FROM accounts a
WHERE a.min_post_interval > '0'::interval AND a.deleted_at IS NULL
  AND NOT a.paused AND NOT a.disabled AND NOT a.needs_credentials
  AND (a.next_post_at IS NULL OR a.next_post_at <= %(horizon)s)
  AND EXISTS (SELECT 1 FROM posts q WHERE q.account_id = a.id AND q.status = 'SCHEDULED' AND q.scheduled_at <= %(horizon)s)
FOR UPDATE OF a SKIP LOCKED
"""
LEASE_PACED = _lease(f"""paced AS (
    SELECT a.id, a.next_post_at, a.throttled_until FROM accounts a
    WHERE a.id = ANY(%(accounts)s)
      AND NOT EXISTS (SELECT 1 FROM {POST_COUNTS} c WHERE c.account_id = a.id AND c.status IN ('QUEUED', 'PUBLISHING')
                      GROUP BY c.account_id HAVING sum(c.n) > 0)
), due AS (
    SELECT p.id, greatest(p.scheduled_at, p.not_before, a.throttled_until, a.next_post_at) AS due_at, 0 AS turn
    FROM paced a
    JOIN LATERAL (
        SELECT q.id, q.scheduled_at, q.not_before FROM posts q
        WHERE q.account_id = a.id AND q.status = 'SCHEDULED' AND {NOT_MISSED.format(p="q")}
        ORDER BY q.scheduled_at, q.id LIMIT 1
    ) p ON true
    WHERE greatest(p.scheduled_at, p.not_before, a.throttled_until, a.next_post_at) <= %(horizon)s
)""", after_moved=accounts.PACE_AFTER_LEASE)

# Due posts of paced accounts that must wait for their turn, said once each (post.waiting): the
# k-th in line (0 = next) is expected k intervals after the account's next turn (or now), and not
# handed over before then (not_before): the event's waiting_until is a promise the dispatcher keeps
# (it may go later, never sooner). A missed occurrence is left to SKIP_MISSED, not given a turn.
NOTE_PACED = move(
    before=f"""line AS (
        SELECT q.id, q.not_before, q.scheduled_at, a.min_post_interval,
               greatest(%(now)s, a.next_post_at) + a.min_post_interval
                   * (row_number() OVER (PARTITION BY q.account_id ORDER BY q.scheduled_at, q.id) - 1) AS expected
        FROM accounts a JOIN posts q ON q.account_id = a.id AND q.status = 'SCHEDULED'
        WHERE a.min_post_interval > '0'::interval AND a.deleted_at IS NULL AND q.scheduled_at <= %(now)s
          AND {NOT_MISSED.format(p="q")}
    ), held AS (
        SELECT id, expected, min_post_interval FROM line
        WHERE not_before IS NULL AND expected > scheduled_at + interval '1 second'
    )""",
    source="held", match="p.id = held.id AND p.not_before IS NULL", sources=(S,), target=S, event="paced",
    set="not_before = held.expected",
    message="""'its account posts at most once every ' || held.min_post_interval || ' (min_post_interval); expected at '
               || to_char(held.expected AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')""",
)

# Occurrences of recurring posts never tried and more than the grace late: CANCELLED as skipped
# (post.skipped; RecurringStore counts them when read). Never published late in a pile.
SKIP_MISSED = move(
    before="""missed AS (
        SELECT id FROM posts
        WHERE status = 'SCHEDULED' AND greatest(scheduled_at, not_before) < %(skip_before)s
          AND scheduled_at < %(skip_before)s AND recurring_post_id IS NOT NULL AND attempts = 0
          AND not_before IS NULL
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED
    )""",
    source="missed", match="p.id = missed.id", sources=(S,), target=PostStatus.CANCELLED, event="skipped",
    set="last_error = %(reason)s, lease_owner = NULL", message="%(reason)s",
)

# The posts named, if still leasable, each with its place in the list as its turn.
LEASE_THESE = _lease(f"""due AS (
    SELECT p.id, greatest(p.scheduled_at, p.not_before, a.throttled_until) AS due_at, t.turn
    FROM unnest(%(ids)s::uuid[]) WITH ORDINALITY AS t(id, turn)
    JOIN posts p ON p.id = t.id JOIN accounts a ON a.id = p.account_id
    WHERE {LEASABLE}
    FOR UPDATE OF p SKIP LOCKED
)""")


# Rows a publisher is claiming at this moment are skipped, not waited for: the claim moves them on
# (the record would be moot), and waiting would hold both sides up in a burst. A post whose claim
# then rolls back stays QUEUED without a hand-over record: its lease runs out and the rescuer hands
# it over again under a new generation (the old message is then stale): never twice.
HANDED_OVER = f"""
WITH target AS (
    SELECT p.id, h.seq FROM posts p
    JOIN unnest(%(ids)s::uuid[], %(generations)s::int[], %(sequences)s::bigint[]) AS h(id, generation, seq)
      ON p.id = h.id
    WHERE p.dispatch_generation = h.generation AND p.status = 'QUEUED'
    FOR UPDATE OF p SKIP LOCKED
), handed AS (
    UPDATE posts p
    SET handed_over_at = %(now)s, stream_seq = t.seq, lease_expires_at = {leases.HANDED_OVER}
    FROM target t
    WHERE p.id = t.id
    RETURNING p.id, p.tenant_id, p.account_id, t.seq, {OWN_TRACE_ID} AS trace_id
)
INSERT INTO processing_logs (post_id, tenant_id, account_id, event, message, trace_id, created_at)
SELECT id, tenant_id, account_id, 'handed_over', 'JetStream sequence ' || seq, trace_id, %(now)s FROM handed
"""
# Hand-over records per statement: short transactions, so claims never wait long on their rows.
HANDED_OVER_CHUNK = 500


RELEASE = move(
    source="unnest(%(ids)s::uuid[], %(generations)s::int[]) AS r(id, generation)",
    match="p.id = r.id AND p.dispatch_generation = r.generation AND p.handed_over_at IS NULL",
    sources=(Q,), target=S, event="released", set="lease_owner = NULL, lease_expires_at = NULL",
    message="%(reason)s",
)

RESCUE = move(
    before="""expired AS (
        SELECT id FROM posts
        WHERE status = 'QUEUED' AND lease_expires_at < %(now)s
        ORDER BY lease_expires_at
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED
    )""",
    source="expired", match="p.id = expired.id", sources=(Q,), target=S, event="lease_expired",
    set="lease_owner = NULL, lease_expires_at = NULL",
    message="""CASE WHEN p.handed_over_at IS NULL THEN 'lease expired before hand-over'
                    ELSE 'handed over but not claimed in time; dispatching again' END""",
)


@dataclass(frozen=True)
class HandedOver:
    """A post QUEUED under a message that JetStream acknowledged at `seq`."""

    id: uuid.UUID
    generation: int
    seq: int
    handed_over_at: datetime

    @property
    def message(self) -> MessageKey:
        return MessageKey(self.id, self.generation)


# Oldest hand-overs first, from a cursor, so a long backlog is checked a slice at a time.
HANDED_OVER_BEFORE = """
SELECT id, dispatch_generation AS generation, stream_seq AS seq, handed_over_at FROM posts
WHERE status = 'QUEUED' AND handed_over_at IS NOT NULL AND stream_seq IS NOT NULL
  AND handed_over_at < %(before)s AND (handed_over_at, id) > (%(after_at)s, %(after_id)s)
ORDER BY handed_over_at, id
LIMIT %(limit)s
"""

# The message of this generation is gone: back to SCHEDULED, so a dispatcher leases the post again
# under a new generation (the NOTIFY trigger tells it at once). A copy of the old message that
# comes back after all carries a stale generation and is dropped by the publisher.
HAND_OVER_AGAIN = move(
    source="unnest(%(ids)s::uuid[], %(generations)s::int[]) AS l(id, generation)",
    match="p.id = l.id AND p.dispatch_generation = l.generation",
    sources=(Q,), target=S, event="message_lost",
    set="lease_owner = NULL, lease_expires_at = NULL, handed_over_at = NULL, stream_seq = NULL",
    message="%(reason)s",
)


class DispatchStore:
    def __init__(self, db: Database, *, missed_grace: timedelta = timedelta(hours=1)) -> None:
        self._db = db
        self.missed_grace = missed_grace

    async def lease(
        self, *, owner: str, now: datetime, horizon: datetime, batch: int, grace: float
    ) -> list[LeasedPost]:
        """Leases up to `batch` posts due by `horizon`, oldest first: SCHEDULED -> QUEUED with a new generation."""
        return await self._lease(LEASE, owner=owner, now=now, horizon=horizon, batch=batch, grace=grace)

    async def lease_paced(self, *, owner: str, now: datetime, horizon: datetime, grace: float) -> list[LeasedPost]:
        """Leases the next post of each paced account that has none in flight, if due by `horizon`."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(LOCK_PACED, {"horizon": horizon})
            locked = [row["id"] for row in await cur.fetchall()]
            if not locked:
                return []
            cur = await conn.execute(LEASE_PACED, params(
                accounts=locked, owner=owner, now=now, horizon=horizon, grace=grace, skip_before=now - self.missed_grace))
            return [LeasedPost(**row) for row in await cur.fetchall()]

    async def note_paced(self, *, now: datetime) -> int:
        """Says once (post.waiting) of each due post of a paced account that waits for its turn."""
        async with self._db.connection() as conn:
            cur = await conn.execute(NOTE_PACED, params(now=now, skip_before=now - self.missed_grace))
            return len(await cur.fetchall())

    async def skip_missed(self, *, now: datetime, batch: int = 1000) -> int:
        """Records as skipped the occurrences more than missed_grace late; returns how many."""
        cutoff = now - self.missed_grace
        reason = (f"{SKIPPED} due more than {self.missed_grace} ago (POSTSCHED_MISSED_OCCURRENCE_GRACE) and never "
                  "seen due by a dispatcher (services away); an occurrence is never published late in a pile")
        async with self._db.connection() as conn:
            cur = await conn.execute(SKIP_MISSED, params(skip_before=cutoff, now=now, batch=batch, reason=reason))
            return len(await cur.fetchall())

    async def due_in_turns(self, *, now: datetime, horizon: datetime, limit: int) -> list[uuid.UUID]:
        """The ids of up to `limit` posts due by `horizon`, in turns across tenants and accounts
        (each account's in its own order)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(DUE_IN_TURNS, {"horizon": horizon, "limit": limit,
                                                    "skip_before": now - self.missed_grace})
            return [row["id"] for row in await cur.fetchall()]

    async def lease_these(
        self, ids: Sequence[uuid.UUID], *, owner: str, now: datetime, horizon: datetime, grace: float
    ) -> list[LeasedPost]:
        """Leases the posts named that are still leasable by `horizon`, in the order given."""
        posts = await self._lease(LEASE_THESE, ids=list(ids), owner=owner, now=now, horizon=horizon, grace=grace)
        return sorted(posts, key=lambda p: p.turn)

    async def _lease(self, statement: str, **values: Any) -> list[LeasedPost]:
        values["skip_before"] = values["now"] - self.missed_grace
        async with self._db.connection() as conn:
            cur = await conn.execute(statement, params(**values))
            return [LeasedPost(**row) for row in await cur.fetchall()]

    async def handed_over(
        self, posts: Sequence[tuple[LeasedPost, int]], *, now: datetime, timeout: float
    ) -> None:
        """Records that JetStream acknowledged these (post, stream sequence) messages."""
        if not posts:
            return
        async with self._db.connection() as conn:
            for start in range(0, len(posts), HANDED_OVER_CHUNK):
                chunk = posts[start:start + HANDED_OVER_CHUNK]
                await conn.execute(
                    HANDED_OVER,
                    {
                        "ids": [p.id for p, _ in chunk],
                        "generations": [p.generation for p, _ in chunk],
                        "sequences": [seq for _, seq in chunk],
                        "now": now,
                        "timeout": timeout,
                    },
                )

    async def release(self, posts: Sequence[LeasedPost], *, now: datetime, reason: str) -> int:
        """Returns leased, not yet handed-over posts to SCHEDULED; returns how many."""
        return await self._back_to_scheduled(RELEASE, posts, now=now, reason=reason)

    async def handed_over_before(
        self, before: datetime, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[HandedOver]:
        """QUEUED posts handed over before `before`, oldest first, after the (time, id) cursor."""
        after_at, after_id = after or (datetime.min.replace(tzinfo=before.tzinfo), uuid.UUID(int=0))
        async with self._db.connection() as conn:
            cur = await conn.execute(
                HANDED_OVER_BEFORE, {"before": before, "after_at": after_at, "after_id": after_id, "limit": limit}
            )
            return [HandedOver(**row) for row in await cur.fetchall()]

    async def hand_over_again(self, posts: Sequence[HandedOver], *, now: datetime, reason: str) -> int:
        """Returns posts whose message vanished to SCHEDULED (new generation at the next lease)."""
        return await self._back_to_scheduled(HAND_OVER_AGAIN, posts, now=now, reason=reason)

    async def _back_to_scheduled(self, statement: str, posts: Sequence[LeasedPost | HandedOver], *, now: datetime,
                                 reason: str) -> int:
        """QUEUED -> SCHEDULED for (post, generation) pairs, by RELEASE or HAND_OVER_AGAIN; how many."""
        if not posts:
            return 0
        async with self._db.connection() as conn:
            cur = await conn.execute(statement, params(
                ids=[p.id for p in posts], generations=[p.generation for p in posts], now=now, reason=reason))
            return len(await cur.fetchall())

    async def rescue_expired(self, *, now: datetime, batch: int = 1000) -> int:
        """Returns up to `batch` QUEUED posts whose lease expired to SCHEDULED; returns how many."""
        async with self._db.connection() as conn:
            cur = await conn.execute(RESCUE, params(now=now, batch=batch))
            return len(await cur.fetchall())
