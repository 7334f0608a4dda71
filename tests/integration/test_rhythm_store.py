"""The store operations of posts on a rhythm, on a real PostgreSQL without processes (injected clocks):
pacing a paced account's posts, skipping missed occurrences, occurrences made once under a racing
cursor, a recurring post's new rule and pause, and posting-schedule slots."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import psycopg
import pytest
from cryptography.fernet import Fernet

from postsched import lifecycle, timezones
from postsched.clock import FixedClock
from postsched.credentials import CredentialBox
from postsched.errors import Aborted, FailedPrecondition
from postsched.slots import WeeklySchedule
from postsched.store.accounts import AccountStore
from postsched.store.database import Database
from postsched.store.posts import PostStore
from postsched.store.posts.dispatch import DispatchStore
from postsched.store.posts.publishing import PublishingStore
from postsched.store.recurring import NewRecurring, RecurringStore, Rule
from postsched.store.records import NewAccount, NewPost, PostRecord
from postsched.store.schedules import ScheduleRecord, ScheduleStore

TENANT = "acme"
LEASE = 30.0


def new_recurring(account: uuid.UUID, text: str, media: list[str], link: str, start: datetime, zone: str,
                  recurrence: list[str], key: str | None) -> NewRecurring:
    return NewRecurring(NewPost(account, text, media, link, None, None), start, zone, recurrence, key)


@dataclass
class Stores:
    url: str
    now: datetime
    db: Database
    accounts: AccountStore
    posts: PostStore
    dispatch: DispatchStore
    publishing: PublishingStore
    recurring: RecurringStore
    schedules: ScheduleStore

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    async def account(self, name: str, spacing: timedelta = timedelta(0)) -> uuid.UUID:
        record = await self.accounts.create(TENANT, NewAccount("webhook", name, name, {"url": "https://e.example"},
                                                                min_post_interval=spacing))
        return record.id

    def check_log(self) -> None:
        for source, target, event in self.sql("SELECT from_status::text, to_status::text, event FROM processing_logs"):
            if source is not None or target is not None:
                assert lifecycle.find(source, target, event) is not None, (source, target, event)


def schedule_of(record: ScheduleRecord) -> WeeklySchedule:
    return WeeklySchedule.parse(timezones.zone(record.time_zone), record.slots)


def slot_post(account: uuid.UUID, text: str, now: datetime) -> PostRecord:
    """A post as EnqueuePost hands it to the store (its time is the slot's)."""
    return PostRecord(id=uuid.uuid4(), tenant_id=TENANT, account_id=account, status="SCHEDULED", text=text, media_urls=[],
                      link="", scheduled_at=now, published_at=None, platform_post_id=None, attempts=0, last_error=None,
                      idempotency_key=None, created_at=now, updated_at=now)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[Stores]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = await Database(database_url).open()
    clock = FixedClock(now)
    accounts = AccountStore(db, CredentialBox(Fernet.generate_key().decode()), clock)
    await accounts.ensure_tenants([TENANT])
    try:
        yield Stores(database_url, now, db, accounts, PostStore(db, clock), DispatchStore(db), PublishingStore(db),
                     RecurringStore(db, clock), ScheduleStore(db, clock))
    finally:
        await db.close()


async def test_a_paced_account_has_one_post_in_flight_and_the_next_waits_its_interval(stores: Stores) -> None:
    paced = await stores.account("paced", timedelta(minutes=10))
    free = await stores.account("free")
    posts = await stores.posts.create(TENANT, [NewPost(paced, f"p{n}", [], "", stores.now + timedelta(milliseconds=n), None)
                                               for n in range(3)] + [NewPost(free, "f", [], "", stores.now, None)])
    horizon = stores.now + timedelta(seconds=5)
    # The ordinary lease never takes a paced account's post; the paced lease takes its first, alone.
    plain = await stores.dispatch.lease(owner="d1", now=stores.now, horizon=horizon, batch=100, grace=LEASE)
    assert [p.id for p in plain] == [posts[3].id]
    (first,) = await stores.dispatch.lease_paced(owner="d1", now=stores.now, horizon=horizon, grace=LEASE)
    assert first.id == posts[0].id
    assert await stores.dispatch.lease_paced(owner="d1", now=stores.now, horizon=horizon, grace=LEASE) == []  # in flight
    (claimed,) = await stores.publishing.claim([first.message], owner="p1", now=stores.now + timedelta(seconds=1), lease=LEASE)
    assert stores.sql("SELECT next_post_at FROM accounts WHERE id = %s", paced) == [(claimed.claimed_at + timedelta(minutes=10),)]
    # The two others are due and wait: each said once, with the time it will go.
    later = stores.now + timedelta(seconds=2)
    assert await stores.dispatch.note_paced(now=later) == 2
    assert await stores.dispatch.note_paced(now=later) == 0
    promised = [r[0] for r in stores.sql("SELECT not_before FROM posts WHERE account_id = %s AND status = 'SCHEDULED' "
                                         "ORDER BY scheduled_at", paced)]
    turn = claimed.claimed_at + timedelta(minutes=10)
    assert promised == [turn, turn + timedelta(minutes=10)]
    (events,) = stores.sql("SELECT count(*) FROM events WHERE type = 'post.waiting'")
    assert events == (2,)
    stores.sql("UPDATE posts SET status = 'PUBLISHED' WHERE id = %s", first.id)  # the attempt's outcome
    assert await stores.dispatch.lease_paced(owner="d1", now=later, horizon=later + timedelta(seconds=5), grace=LEASE) == []
    (second,) = await stores.dispatch.lease_paced(owner="d1", now=turn, horizon=turn + timedelta(seconds=5), grace=LEASE)
    assert second.id == posts[1].id and second.due_at == turn
    stores.check_log()


async def test_missed_occurrences_are_skipped_and_never_leased(stores: Stores) -> None:
    account = await stores.account("hook")
    recurring = await stores.recurring.create(TENANT, new_recurring(
        account, "hourly", [], "", stores.now.replace(tzinfo=None), "UTC", ["RRULE:FREQ=HOURLY"], None), trace_context=None)
    instants = [stores.now - timedelta(hours=h) for h in (3, 2)] + [stores.now - timedelta(minutes=30)]
    assert await stores.recurring.add_occurrences(recurring, instants, through=stores.now, ended=False) == 3
    leased = await stores.dispatch.lease(owner="d1", now=stores.now, horizon=stores.now, batch=100, grace=LEASE)
    assert [p.scheduled_at for p in leased] == [instants[2]]  # within the grace: goes; the others: not leased
    assert await stores.dispatch.skip_missed(now=stores.now) == 2
    assert await stores.dispatch.skip_missed(now=stores.now) == 0
    assert stores.sql("SELECT status::text, count(*) FROM posts GROUP BY 1 ORDER BY 1") == [("CANCELLED", 2), ("QUEUED", 1)]
    assert (await stores.recurring.get(TENANT, recurring.id)).occurrences_skipped == 2
    assert stores.sql("SELECT count(*) FROM events WHERE type = 'post.skipped'") == [(2,)]
    stores.check_log()


async def test_occurrences_are_made_once_when_cursors_race(stores: Stores) -> None:
    account = await stores.account("hook")
    recurring = await stores.recurring.create(TENANT, new_recurring(
        account, "daily", [], "", stores.now.replace(tzinfo=None), "UTC", ["RRULE:FREQ=DAILY"], None), trace_context=None)
    instants = [stores.now + timedelta(days=d) for d in range(1, 30)]
    results = await asyncio.gather(*(stores.recurring.add_occurrences(recurring, instants, through=instants[-1], ended=False)
                                     for _ in range(8)))
    assert sorted(results, key=lambda r: r or 0) == [None] * 7 + [29]  # one wins; the others find the cursor moved
    assert stores.sql("SELECT count(*) FROM posts") == [(29,)]


async def test_a_new_rule_cancels_the_live_occurrences_and_starts_a_new_version(stores: Stores) -> None:
    account = await stores.account("hook")
    recurring = await stores.recurring.create(TENANT, new_recurring(
        account, "daily", [], "", stores.now.replace(tzinfo=None), "UTC", ["RRULE:FREQ=DAILY"], None), trace_context=None)
    instants = [stores.now + timedelta(days=d) for d in (1, 2)]
    await stores.recurring.add_occurrences(recurring, instants, through=instants[-1], ended=False)
    with pytest.raises(Aborted):  # prepared from a copy older than the row
        await stores.recurring.update(TENANT, recurring.id, content=NewPost(account, "stale", [], "", None, None), rule=None,
                                      read_at=recurring.updated_at - timedelta(seconds=1))
    changed = await stores.recurring.update(TENANT, recurring.id, content=NewPost(account, "new text", [], "", None, None),
                                            rule=Rule(stores.now.replace(tzinfo=None), "UTC", ["RRULE:FREQ=WEEKLY"]),
                                            read_at=recurring.updated_at)
    assert changed.version == recurring.version + 1 and changed.created_through == stores.now and changed.text == "new text"
    assert stores.sql("SELECT status::text, text FROM posts ORDER BY scheduled_at") == [("CANCELLED", "new text")] * 2
    # The same instants under the new version are new occurrences (the old ones stay cancelled).
    assert await stores.recurring.add_occurrences(changed, instants, through=instants[-1], ended=False) == 2
    paused = await stores.recurring.pause(TENANT, recurring.id)
    assert paused.status == "PAUSED" and stores.sql("SELECT count(*) FROM posts WHERE status = 'SCHEDULED'") == [(0,)]
    with pytest.raises(FailedPrecondition):
        await stores.recurring.pause(TENANT, (await stores.recurring.cancel(TENANT, recurring.id)).id)
    stores.check_log()


async def test_enqueue_takes_the_first_free_slot_and_cancelling_frees_it(stores: Stores) -> None:
    account = await stores.account("slots")
    zone = timezones.zone("Europe/Berlin")
    slots = [(1, "09:00"), (3, "12:30"), (5, "17:00")]
    weekly = WeeklySchedule.parse(zone, slots)
    await stores.schedules.set(TENANT, account, "Europe/Berlin", slots, weekly, reshuffle=False)

    made = await asyncio.gather(*(stores.schedules.enqueue(TENANT, slot_post(account, f"p{n}", stores.now), stores.now, schedule_of, trace_context=None)
                                  for n in range(12)))
    assert sorted(p.scheduled_at for p in made) == weekly.after(stores.now, 12)
    victim = sorted(made, key=lambda p: p.scheduled_at)[4]
    await stores.posts.cancel(TENANT, victim.id)
    upcoming = await stores.schedules.upcoming(TENANT, account, weekly, 12)
    assert [at for at, filled in upcoming if filled is None] == [victim.scheduled_at]
    again = await stores.schedules.enqueue(TENANT, slot_post(account, "again", stores.now), stores.now, schedule_of, trace_context=None)
    assert again.scheduled_at == victim.scheduled_at and again.slotted
    # Rescheduling by hand takes a post out of the slots.
    moved = await stores.posts.reschedule(TENANT, again.id, stores.now + timedelta(days=400))
    assert not moved.slotted
    stores.check_log()


async def test_a_new_spacing_drops_the_promised_turns_and_a_deleted_account_ends_its_recurring_posts(stores: Stores) -> None:
    paced = await stores.account("paced", timedelta(minutes=10))
    await stores.posts.create(TENANT, [NewPost(paced, f"p{n}", [], "", stores.now + timedelta(milliseconds=n), None)
                                       for n in range(3)])
    await stores.dispatch.lease_paced(owner="d1", now=stores.now, horizon=stores.now + timedelta(seconds=5), grace=LEASE)
    assert await stores.dispatch.note_paced(now=stores.now + timedelta(seconds=2)) == 2
    await stores.accounts.update(TENANT, paced, {"min_post_interval": timedelta(seconds=1)})
    assert stores.sql("SELECT count(*) FROM posts WHERE not_before IS NOT NULL") == [(0,)]
    assert await stores.dispatch.note_paced(now=stores.now + timedelta(seconds=2)) == 2  # the new turns, said again
    recurring = await stores.recurring.create(TENANT, new_recurring(
        paced, "daily", [], "", stores.now.replace(tzinfo=None), "UTC", ["RRULE:FREQ=DAILY"], None), trace_context=None)
    await stores.accounts.delete(TENANT, paced)
    assert (await stores.recurring.get(TENANT, recurring.id)).status == "CANCELLED"
    assert await stores.recurring.due(until=stores.now + timedelta(days=9), limit=10) == []


async def test_the_horizon_duty_fills_ahead_then_leaves_a_recurring_post_alone_until_its_cursor_lags(stores: Stores) -> None:
    from services.dispatcher.horizon import Horizon

    account = await stores.account("hook")
    start = (stores.now + timedelta(hours=1)).replace(tzinfo=None, minute=0, second=0)
    await stores.recurring.create(TENANT, new_recurring(account, "hourly", [], "", start, "UTC", ["RRULE:FREQ=HOURLY"], None),
                                  trace_context=None)
    horizon = Horizon(stores.recurring, FixedClock(stores.now), horizon=timedelta(hours=48))
    assert await horizon.run_once() == 48
    assert await stores.recurring.due(until=stores.now + timedelta(hours=48) - timedelta(minutes=10), limit=10) == []
    later = Horizon(stores.recurring, FixedClock(stores.now + timedelta(hours=1)), horizon=timedelta(hours=48))
    assert await later.run_once() == 1  # an hour on: one more occurrence, not 48 again
    assert stores.sql("SELECT count(*), count(DISTINCT occurrence_time) FROM posts") == [(49, 49)]


async def test_a_paced_accounts_missed_occurrence_is_skipped_not_leased(stores: Stores) -> None:
    paced = await stores.account("paced", timedelta(minutes=1))
    recurring = await stores.recurring.create(TENANT, new_recurring(
        paced, "hourly", [], "", stores.now.replace(tzinfo=None), "UTC", ["RRULE:FREQ=HOURLY"], None), trace_context=None)
    missed, recent = stores.now - timedelta(hours=2), stores.now - timedelta(minutes=5)
    await stores.recurring.add_occurrences(recurring, [missed, recent], through=stores.now, ended=False)
    (leased,) = await stores.dispatch.lease_paced(owner="d1", now=stores.now, horizon=stores.now + timedelta(seconds=5),
                                                  grace=LEASE)
    assert leased.scheduled_at == recent  # the missed one, first in order, is passed over
    assert await stores.dispatch.note_paced(now=stores.now) == 0  # and not given a turn
    assert await stores.dispatch.skip_missed(now=stores.now) == 1
    assert (await stores.recurring.get(TENANT, recurring.id)).occurrences_skipped == 1
    stores.check_log()


async def test_a_reshuffle_keeps_each_posts_not_before_and_its_order(stores: Stores) -> None:
    account = await stores.account("slots")
    zone = timezones.zone("UTC")
    daily = [(d, "09:00") for d in range(1, 8)]
    await stores.schedules.set(TENANT, account, "UTC", daily, WeeklySchedule.parse(zone, daily), reshuffle=False)

    soon = await stores.schedules.enqueue(TENANT, slot_post(account, "soon", stores.now), stores.now, schedule_of, trace_context=None)
    month = stores.now + timedelta(days=30)
    later = await stores.schedules.enqueue(TENANT, slot_post(account, "next month", stores.now), month, schedule_of, trace_context=None)
    twice = [(d, h) for d in range(1, 8) for h in ("08:00", "20:00")]
    await stores.schedules.set(TENANT, account, "UTC", twice, WeeklySchedule.parse(zone, twice), reshuffle=True)
    moved = {r[0]: r[1] for r in stores.sql("SELECT text, scheduled_at FROM posts")}
    new = WeeklySchedule.parse(zone, twice)
    assert moved["soon"] == new.after(stores.now, 1)[0]
    assert moved["next month"] == new.after(month, 1)[0]  # not pulled into this week
    assert soon.scheduled_at != moved["soon"] and later.slotted
    stores.check_log()


async def test_enqueue_refuses_a_slot_further_ahead_than_a_post_may_be(stores: Stores) -> None:
    account = await stores.account("yearly")
    zone = timezones.zone("UTC")
    only = [(1, "09:00")]
    await stores.schedules.set(TENANT, account, "UTC", only, WeeklySchedule.parse(zone, only), reshuffle=False)

    with pytest.raises(FailedPrecondition, match="400 days"):
        await stores.schedules.enqueue(TENANT, slot_post(account, "x", stores.now), stores.now + timedelta(days=400), schedule_of, trace_context=None)
