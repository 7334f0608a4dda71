"""The publisher's SQL: claim a batch of messages' posts, renew leases, checkpoint, record outcomes.

The claim is a compare-and-set on (status QUEUED, dispatch_generation): a stale or duplicate
message, or a cancelled post, matches nothing. Each claim and each take-over bumps the post's
attempt_epoch; every later write of that attempt (lease renewal, checkpoint, outcome) is a
compare-and-set on (PUBLISHING, attempt_epoch), so an attempt taken over by the publishing
rescuer can change nothing, however late it wakes.

platform_state survives claims: it holds the time of every claim so far (`claims`, the windows a
lookup must search) and what attempts learned (an Instagram container id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from psycopg.types.json import Jsonb

from postsched import lifecycle
from postsched.keys import AttemptKey, MessageKey
from postsched.lifecycle import PostStatus
from postsched.store import accounts, leases
from postsched.store.database import Database
from postsched.store.posts.transitions import PerRow, move, params

S, Q, P = PostStatus.SCHEDULED, PostStatus.QUEUED, PostStatus.PUBLISHING

CLAIM_COLUMNS = """
    c.id, c.tenant_id, c.account_id, c.dispatch_generation AS generation, c.text, c.media_urls, c.link,
    c.scheduled_at, c.attempts, c.claimed_at, c.platform_state, c.trace_context, c.attempt_epoch AS epoch,
    c.kind, c.reel, a.platform::text AS platform, a.external_id, a.credentials, a.needs_credentials, a.throttled_until
"""


@dataclass(frozen=True)
class ClaimedPost:
    id: uuid.UUID
    tenant_id: str
    account_id: uuid.UUID
    generation: int
    text: str
    media_urls: list[str]
    link: str
    scheduled_at: datetime
    attempts: int  # including this attempt
    claimed_at: datetime
    platform_state: dict[str, Any] | None
    trace_context: str | None
    epoch: int  # this attempt's fencing token
    platform: str
    external_id: str
    credentials: bytes
    needs_credentials: bool
    throttled_until: datetime | None
    kind: str = "FEED"
    reel: dict[str, Any] | None = None

    @property
    def message(self) -> MessageKey:
        return MessageKey(self.id, self.generation)

    @property
    def attempt(self) -> AttemptKey:
        return AttemptKey(self.id, self.epoch)


CLAIM = move(
    source="unnest(%(ids)s::uuid[], %(generations)s::int[]) AS m(id, generation)",
    # The database decides when a post may go, not the message: never before it is due.
    match="""p.id = m.id AND p.dispatch_generation = m.generation
             AND greatest(p.scheduled_at, p.not_before) <= %(now)s + make_interval(secs => %(skew)s)""",
    sources=(Q,), target=P, event="claimed",
    set="""attempts = p.attempts + 1, claimed_at = %(now)s, attempt_epoch = p.attempt_epoch + 1,
           platform_state = jsonb_set(coalesce(p.platform_state, '{}'), '{claims}',
                                      coalesce(p.platform_state -> 'claims', '[]') || to_jsonb(%(now)s::timestamptz)),
           lease_owner = %(owner)s, lease_expires_at = """ + leases.PUBLISHING,
    message="'by ' || %(owner)s", attempt=True, returning="p.*",
    select=f"""{accounts.PACE_AFTER_CLAIM}
    SELECT {CLAIM_COLUMNS} FROM moved c JOIN accounts a ON a.id = c.account_id""",
)

# Messages a publisher does not take on now (their account or tenant already has as much in flight
# there as it may): the posts go back to SCHEDULED, not to be handed over again before not_before.
DEFER = move(
    source="unnest(%(ids)s::uuid[], %(generations)s::int[], %(until)s::timestamptz[]) AS d(id, generation, not_before)",
    match="p.id = d.id AND p.dispatch_generation = d.generation", sources=(Q,), target=S, event="deferred",
    set="""not_before = d.not_before, lease_owner = NULL, lease_expires_at = NULL, handed_over_at = NULL,
           stream_seq = NULL""",
    message="""'its account has as many posts in flight at ' || %(owner)s || ' as it may; handed over again from '
               || to_char(d.not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')""",
)

# How much earlier than its due time a post may be claimed: clocks of machines differ a little.
CLAIM_SKEW = 2.0

# Attempts whose publisher went away (killed, hung): taken over by one rescuer at a time.
TAKE_OVER = f"""
WITH stuck AS (
    SELECT id FROM posts
    WHERE status = 'PUBLISHING' AND lease_expires_at < %(now)s
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), taken AS (
    UPDATE posts p SET lease_owner = %(owner)s, lease_expires_at = {leases.PUBLISHING},
        attempt_epoch = p.attempt_epoch + 1
    FROM stuck WHERE p.id = stuck.id
    RETURNING p.*
)
SELECT {CLAIM_COLUMNS} FROM taken c JOIN accounts a ON a.id = c.account_id
"""


@dataclass(frozen=True)
class Outcome:
    """The end of one attempt, as recorded.

    status: PUBLISHED, QUEUED (a retry will come with the same message), SCHEDULED (snoozed: the
    platform asked to wait; the attempt is given back), FAILED; with `event`, one of the lifecycle's
    transitions out of PUBLISHING (checked here: RECORD takes them per row).
    """

    post_id: uuid.UUID
    epoch: int
    status: PostStatus
    event: str
    message: str = ""
    platform_post_id: str | None = None
    permalink: str | None = None
    last_error: str | None = None
    scheduled_at: datetime | None = None  # SCHEDULED: when to try again
    lease_expires_at: datetime | None = None  # QUEUED: when the dispatcher may take the post back
    attempts_delta: int = 0  # -1 gives the attempt back

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", PostStatus(self.status))
        if lifecycle.find(P.value, self.status.value, self.event) is None:
            raise ValueError(f"PUBLISHING -> {self.status} ({self.event}) is not in postsched.lifecycle.TRANSITIONS")


RECORD = move(
    before="""o AS (
        SELECT * FROM unnest(%(ids)s::uuid[], %(epochs)s::bigint[], %(statuses)s::post_status[], %(events)s::text[],
                             %(messages)s::text[], %(platform_ids)s::text[], %(permalinks)s::text[],
                             %(errors)s::text[], %(scheduled)s::timestamptz[],
                             %(leases)s::timestamptz[], %(deltas)s::int[])
            AS o(id, epoch, status, event, message, platform_post_id, permalink, last_error, scheduled_at,
                 lease_expires_at, delta)
    )""",
    source="o", match="p.id = o.id AND p.attempt_epoch = o.epoch", sources=(P,),
    target=PerRow("o.status"), event=PerRow("o.event"),  # each checked by Outcome
    set="""published_at = CASE WHEN o.status = 'PUBLISHED' THEN %(now)s ELSE p.published_at END,
           platform_post_id = coalesce(o.platform_post_id, p.platform_post_id),
           permalink = coalesce(o.permalink, p.permalink),
           last_error = o.last_error,
           scheduled_at = coalesce(o.scheduled_at, p.scheduled_at),
           attempts = p.attempts + o.delta,
           lease_owner = CASE WHEN o.status = 'QUEUED' THEN p.lease_owner END,
           lease_expires_at = o.lease_expires_at""",
    message="o.message", attempt=True,
)


class PublishingStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(
        self, messages: Sequence[MessageKey], *, owner: str, now: datetime, lease: float
    ) -> list[ClaimedPost]:
        """Claims the posts of (post id, generation) messages still QUEUED under that generation,
        each with a publishing lease of `lease` seconds that the attempt must renew."""
        if not messages:
            return []
        async with self._db.connection() as conn:
            cur = await conn.execute(
                CLAIM,
                params(ids=[m.post_id for m in messages], generations=[m.generation for m in messages],
                       owner=owner, now=now, lease=lease, skew=CLAIM_SKEW),
            )
            return [ClaimedPost(**row) for row in await cur.fetchall()]

    async def not_yet_due(
        self, messages: Sequence[MessageKey], *, now: datetime
    ) -> dict[MessageKey, datetime]:
        """Of (post id, generation) messages the claim did not take, those whose post waits under
        that generation but is not due yet (an early message), with when it is due."""
        if not messages:
            return {}
        async with self._db.connection() as conn:
            cur = await conn.execute(
                """SELECT p.id, p.dispatch_generation AS generation, greatest(p.scheduled_at, p.not_before) AS due
                   FROM posts p JOIN unnest(%(ids)s::uuid[], %(generations)s::int[]) AS m(id, generation)
                     ON p.id = m.id AND p.dispatch_generation = m.generation
                   WHERE p.status = 'QUEUED'
                     AND greatest(p.scheduled_at, p.not_before) > %(now)s + make_interval(secs => %(skew)s)""",
                {"ids": [m.post_id for m in messages], "generations": [m.generation for m in messages], "now": now,
                 "skew": CLAIM_SKEW},
            )
            return {MessageKey(row["id"], row["generation"]): row["due"] for row in await cur.fetchall()}

    async def defer(
        self, messages: Sequence[tuple[MessageKey, datetime]], *, owner: str, now: datetime
    ) -> int:
        """Gives back the posts of (message, not before) pairs still QUEUED under the message's
        generation; returns how many."""
        if not messages:
            return 0
        async with self._db.connection() as conn:
            cur = await conn.execute(DEFER, params(
                ids=[key.post_id for key, _ in messages], generations=[key.generation for key, _ in messages],
                until=[until for _, until in messages], owner=owner, now=now,
            ))
            return len(await cur.fetchall())

    async def take_over_stuck(self, *, owner: str, now: datetime, lease: float, limit: int = 50) -> list[ClaimedPost]:
        """Takes over attempts whose lease ran out, under a new attempt epoch (fencing the old one)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(TAKE_OVER, {"owner": owner, "now": now, "lease": lease, "limit": limit})
            return [ClaimedPost(**row) for row in await cur.fetchall()]

    async def renew(
        self, held: Sequence[AttemptKey], *, now: datetime, lease: float
    ) -> set[AttemptKey]:
        """Extends the leases of (post id, epoch) attempts still held; returns those still held."""
        if not held:
            return set()
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"""UPDATE posts p SET lease_expires_at = {leases.PUBLISHING}
                   FROM unnest(%(ids)s::uuid[], %(epochs)s::bigint[]) AS h(id, epoch)
                   WHERE p.id = h.id AND p.attempt_epoch = h.epoch AND p.status = 'PUBLISHING'
                   RETURNING p.id, p.attempt_epoch""",
                {"ids": [h.post_id for h in held], "epochs": [h.epoch for h in held], "now": now, "lease": lease},
            )
            return {AttemptKey(row["id"], row["attempt_epoch"]) for row in await cur.fetchall()}

    async def checkpoint(self, post_id: uuid.UUID, epoch: int, state: dict[str, Any]) -> bool:
        """Merges `state` into platform_state; False if the attempt no longer holds the post."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                """UPDATE posts SET platform_state = coalesce(platform_state, '{}') || %s
                   WHERE id = %s AND attempt_epoch = %s AND status = 'PUBLISHING'""",
                (Jsonb(state), post_id, epoch),
            )
            return cur.rowcount == 1

    async def same_text_posts(
        self, account_id: uuid.UUID, text: str, *, other_than: uuid.UUID, since: datetime
    ) -> list[tuple[str, str | None]]:
        """(status, platform post id) of this account's other posts with the same text that were
        claimed since `since`: posts a lookup by text could mistake for this one."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                """SELECT status::text AS status, platform_post_id FROM posts
                   WHERE account_id = %s AND text = %s AND id <> %s AND claimed_at >= %s""",
                (account_id, text, other_than, since),
            )
            return [(row["status"], row["platform_post_id"]) for row in await cur.fetchall()]

    async def record(self, outcomes: Sequence[Outcome], *, now: datetime) -> set[uuid.UUID]:
        """Records outcomes in one statement; returns the ids whose compare-and-set matched."""
        if not outcomes:
            return set()
        async with self._db.connection() as conn:
            cur = await conn.execute(
                RECORD,
                params(
                    ids=[o.post_id for o in outcomes],
                    epochs=[o.epoch for o in outcomes],
                    statuses=[o.status.value for o in outcomes],
                    events=[o.event for o in outcomes],
                    messages=[o.message for o in outcomes],
                    platform_ids=[o.platform_post_id for o in outcomes],
                    permalinks=[o.permalink for o in outcomes],
                    errors=[o.last_error for o in outcomes],
                    scheduled=[o.scheduled_at for o in outcomes],
                    leases=[o.lease_expires_at for o in outcomes],
                    deltas=[o.attempts_delta for o in outcomes],
                    now=now,
                ),
            )
            return {row["post_id"] for row in await cur.fetchall()}

    async def mark_needs_credentials(self, account_id: uuid.UUID, reason: str, *, now: datetime) -> None:
        async with self._db.transaction() as conn:
            await accounts.mark_needs_credentials(conn, account_id, reason, now=now)

    async def throttle_account(self, account_id: uuid.UUID, until: datetime, reason: str, *, now: datetime) -> None:
        async with self._db.connection() as conn:
            await accounts.throttle(conn, account_id, until, reason, now=now)
