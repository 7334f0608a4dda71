"""Each store operation that moves a post, on a real PostgreSQL (a fresh database per test, made from
a migrated template), without processes: what it changes, what it writes to the processing log
(every entry a transition postsched/lifecycle.py lists), and what fences it — the dispatch
generation for a claim, the attempt epoch for an outcome, a checkpoint or a renewal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import psycopg
import pytest
from cryptography.fernet import Fernet

from postsched import lifecycle
from postsched.clock import FixedClock
from postsched.credentials import CredentialBox
from postsched.errors import FailedPrecondition
from postsched.keys import AttemptKey, MessageKey
from postsched.lifecycle import PostStatus
from postsched.store.accounts import AccountStore
from postsched.store.admin import AdminStore, Scope
from postsched.store.database import Database
from postsched.store.posts import PostStore
from postsched.store.posts.dispatch import DispatchStore, LeasedPost
from postsched.store.posts.publishing import ClaimedPost, Outcome, PublishingStore
from postsched.store.records import NewAccount, NewPost

TENANT = "acme"
LEASE = 30.0


@dataclass
class Stores:
    url: str
    now: datetime
    posts: PostStore
    dispatch: DispatchStore
    publishing: PublishingStore
    admin: AdminStore
    account_id: uuid.UUID

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def status(self, post_id: uuid.UUID) -> str:
        return str(self.sql("SELECT status::text FROM posts WHERE id = %s", post_id)[0][0])

    def log(self, post_id: uuid.UUID) -> list[tuple[str | None, str | None, str]]:
        """The post's processing log as (from, to, event), oldest first; each checked against the table."""
        rows = self.sql("SELECT from_status::text, to_status::text, event FROM processing_logs WHERE post_id = %s "
                        "ORDER BY id", post_id)
        for source, target, event in rows:
            if source is not None or target is not None:
                assert lifecycle.find(source, target, event) is not None, (source, target, event)
        return [(s, t, e) for s, t, e in rows]

    async def create(self, at: datetime | None = None, key: str | None = None) -> uuid.UUID:
        (record,) = await self.posts.create(TENANT, [NewPost(self.account_id, "hello", [], "", at or self.now, key)])
        return record.id

    async def lease(self, at: datetime | None = None) -> list[LeasedPost]:
        at = at or self.now
        return await self.dispatch.lease(owner="d1", now=at, horizon=at + timedelta(seconds=2), batch=100, grace=LEASE)

    async def claim(self, leased: LeasedPost, at: datetime | None = None) -> list[ClaimedPost]:
        return await self.publishing.claim([leased.message], owner="p1", now=at or self.now, lease=LEASE)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[Stores]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = await Database(database_url).open()
    box = CredentialBox(Fernet.generate_key().decode())
    accounts = AccountStore(db, box, FixedClock(now))
    await accounts.ensure_tenants([TENANT])
    account = await accounts.create(TENANT, NewAccount("webhook", "hook-1", "hook", {"url": "https://e.example"}))
    try:
        yield Stores(database_url, now, PostStore(db, FixedClock(now)), DispatchStore(db), PublishingStore(db),
                     AdminStore(db), account.id)
    finally:
        await db.close()


async def test_create_is_idempotent_by_key_and_logs_the_creation(stores: Stores) -> None:
    first = await stores.create(key="k1")
    assert await stores.create(key="k1") == first
    assert stores.sql("SELECT count(*) FROM posts") == [(1,)]
    assert stores.status(first) == "SCHEDULED"
    assert stores.log(first) == [(None, "SCHEDULED", "created")]


async def test_lease_takes_due_posts_only_with_a_new_generation_and_release_gives_them_back(stores: Stores) -> None:
    due = await stores.create()
    later = await stores.create(stores.now + timedelta(hours=1))
    (leased,) = await stores.lease()
    assert leased.id == due and leased.generation == 1 and stores.status(later) == "SCHEDULED"
    assert await stores.lease() == []  # leased once
    assert await stores.dispatch.release([leased], now=stores.now, reason="shutting down") == 1
    assert stores.status(due) == "SCHEDULED"
    (again,) = await stores.lease()
    assert again.generation == 2  # a new generation: the first one's message, if sent, is stale
    assert stores.log(due) == [(None, "SCHEDULED", "created"), ("SCHEDULED", "QUEUED", "queued"),
                               ("QUEUED", "SCHEDULED", "released"), ("SCHEDULED", "QUEUED", "queued")]


async def test_a_lease_not_handed_over_in_time_is_rescued(stores: Stores) -> None:
    post = await stores.create()
    await stores.lease()
    assert await stores.dispatch.rescue_expired(now=stores.now + timedelta(seconds=1)) == 0  # lease still good
    assert await stores.dispatch.rescue_expired(now=stores.now + timedelta(seconds=LEASE + 5)) == 1
    assert stores.status(post) == "SCHEDULED"
    assert stores.log(post)[-1][:2] == ("QUEUED", "SCHEDULED")


async def test_claim_is_fenced_by_generation_and_happens_once(stores: Stores) -> None:
    post = await stores.create()
    (leased,) = await stores.lease()
    stale = MessageKey(post, leased.generation - 1)
    assert await stores.publishing.claim([stale], owner="p1", now=stores.now, lease=LEASE) == []
    (claimed,) = await stores.claim(leased)
    assert claimed.id == post and claimed.epoch == 1 and claimed.attempts == 1 and stores.status(post) == "PUBLISHING"
    assert await stores.claim(leased) == []  # a redelivery of the same message claims nothing
    assert stores.log(post)[-1] == ("QUEUED", "PUBLISHING", "claimed")


async def test_a_message_early_for_its_post_is_not_claimed_and_says_when_it_is_due(stores: Stores) -> None:
    post = await stores.create(stores.now + timedelta(seconds=60))
    (leased,) = await stores.lease(stores.now + timedelta(seconds=59))  # leased ahead of its time
    assert await stores.claim(leased, stores.now) == []  # a signed message, a minute early
    due = await stores.publishing.not_yet_due([leased.message], now=stores.now)
    assert due == {leased.message: stores.now + timedelta(seconds=60)}
    assert stores.status(post) == "QUEUED"


async def test_deferral_gives_the_post_back_until_a_time(stores: Stores) -> None:
    post = await stores.create()
    (leased,) = await stores.lease()
    until = stores.now + timedelta(seconds=20)
    assert await stores.publishing.defer([(leased.message, until)], owner="p1", now=stores.now) == 1
    assert stores.status(post) == "SCHEDULED"
    assert await stores.lease(stores.now + timedelta(seconds=10)) == []  # not before `until`
    (again,) = await stores.lease(until)
    assert again.id == post


async def test_an_outcome_is_recorded_only_under_the_attempts_epoch(stores: Stores) -> None:
    post = await stores.create()
    (leased,) = await stores.lease()
    (claimed,) = await stores.claim(leased)
    stale = Outcome(post, claimed.epoch - 1, PostStatus.PUBLISHED, "published", platform_post_id="x")
    assert await stores.publishing.record([stale], now=stores.now) == set()
    assert stores.status(post) == "PUBLISHING"
    ok = Outcome(post, claimed.epoch, PostStatus.PUBLISHED, "published", platform_post_id="p-1")
    assert await stores.publishing.record([ok], now=stores.now) == {post}
    assert await stores.publishing.record([ok], now=stores.now) == set()  # once
    assert stores.sql("SELECT status::text, platform_post_id FROM posts WHERE id = %s", post) == [("PUBLISHED", "p-1")]
    assert stores.log(post)[-1] == ("PUBLISHING", "PUBLISHED", "published")


async def test_checkpoint_and_renewal_hold_only_for_the_current_attempt(stores: Stores) -> None:
    post = await stores.create()
    (leased,) = await stores.lease()
    (claimed,) = await stores.claim(leased)
    assert await stores.publishing.checkpoint(post, claimed.epoch, {"container": "c-1"})
    assert not await stores.publishing.checkpoint(post, claimed.epoch + 1, {"container": "forged"})
    held = await stores.publishing.renew([claimed.attempt, AttemptKey(post, claimed.epoch + 7)], now=stores.now,
                                         lease=LEASE)
    assert held == {claimed.attempt}
    state = stores.sql("SELECT platform_state FROM posts WHERE id = %s", post)[0][0]
    assert state["container"] == "c-1"


async def test_an_abandoned_attempt_is_taken_over_under_a_new_epoch_that_fences_the_old_one(stores: Stores) -> None:
    post = await stores.create()
    (leased,) = await stores.lease()
    (claimed,) = await stores.claim(leased)
    assert await stores.publishing.take_over_stuck(owner="rescuer", now=stores.now, lease=LEASE) == []  # still held
    later = stores.now + timedelta(seconds=LEASE + 1)
    (taken,) = await stores.publishing.take_over_stuck(owner="rescuer", now=later, lease=LEASE)
    assert taken.id == post and taken.epoch == claimed.epoch + 1
    late = Outcome(post, claimed.epoch, PostStatus.PUBLISHED, "published", platform_post_id="late")
    assert await stores.publishing.record([late], now=later) == set()  # the woken attempt records nothing
    assert not await stores.publishing.checkpoint(post, claimed.epoch, {"x": 1})


async def test_a_retry_goes_back_to_the_queue_and_a_failure_can_be_retried_by_an_operator(stores: Stores) -> None:
    post = await stores.create()
    (leased,) = await stores.lease()
    (claimed,) = await stores.claim(leased)
    retry = Outcome(post, claimed.epoch, PostStatus.QUEUED, "attempt_failed", last_error="503",
                    lease_expires_at=stores.now + timedelta(seconds=90))
    assert await stores.publishing.record([retry], now=stores.now) == {post}
    (again,) = await stores.claim(leased)  # the same message, redelivered
    assert again.epoch == claimed.epoch + 1 and again.attempts == 2
    failed = Outcome(post, again.epoch, PostStatus.FAILED, "failed", last_error="gone", message="gone")
    assert await stores.publishing.record([failed], now=stores.now) == {post}
    record, problem = await stores.admin.retry_post(post, stores.now, "operator")
    assert problem is None and record.status == "SCHEDULED"
    events = [e for _, _, e in stores.log(post)]
    assert events[-3:] == ["claimed", "failed", "retried"]
    actor = stores.sql("SELECT actor FROM processing_logs WHERE post_id = %s ORDER BY id DESC LIMIT 1", post)
    assert actor == [("operator",)]


async def test_cancel_reschedule_and_update_only_before_publishing(stores: Stores) -> None:
    post = await stores.create(stores.now + timedelta(hours=1))
    moved = await stores.posts.reschedule(TENANT, post, stores.now + timedelta(hours=2))
    assert moved.scheduled_at == stores.now + timedelta(hours=2)
    account = (await stores.posts.get(TENANT, post)).account_id
    updated = await stores.posts.update_content(TENANT, post, NewPost(account, "new text", [], "", None, None))
    assert updated.text == "new text"
    assert (await stores.posts.cancel(TENANT, post)).status == "CANCELLED"
    assert (await stores.posts.cancel(TENANT, post)).status == "CANCELLED"  # again: unchanged, so clients may retry
    assert [e for _, _, e in stores.log(post)].count("cancelled") == 1
    publishing = await stores.create()
    (leased,) = await stores.lease()
    await stores.claim(leased)
    for change in (stores.posts.cancel(TENANT, publishing),
                   stores.posts.update_content(TENANT, publishing, NewPost(account, "too late", [], "", None, None))):
        with pytest.raises(FailedPrecondition):
            await change
    assert stores.status(publishing) == "PUBLISHING"


async def test_clear_up_removes_only_old_published_posts(stores: Stores) -> None:
    post = await stores.create()
    (leased,) = await stores.lease()
    (claimed,) = await stores.claim(leased)
    await stores.publishing.record([Outcome(post, claimed.epoch, PostStatus.PUBLISHED, "published",
                                            platform_post_id="p")], now=stores.now)
    waiting = await stores.create(stores.now + timedelta(days=1))
    assert await stores.admin.clear_published(stores.now - timedelta(days=1)) == 0  # not old enough
    assert await stores.admin.clear_published(stores.now + timedelta(seconds=1), actor="operator") == 1
    assert stores.sql("SELECT id FROM posts") == [(waiting,)]


async def test_operators_retry_every_failed_post_of_a_scope(stores: Stores) -> None:
    posts = [await stores.create() for _ in range(3)]
    for leased in await stores.lease():
        (claimed,) = await stores.claim(leased)
        await stores.publishing.record([Outcome(claimed.id, claimed.epoch, PostStatus.FAILED, "failed",
                                                last_error="x")], now=stores.now)
    retried, _ = await stores.admin.retry_failed(Scope(tenant_id=TENANT), stores.now, "operator")
    assert retried == 3 and {stores.status(p) for p in posts} == {"SCHEDULED"}


async def test_an_account_paused_waiting_for_credentials_or_throttled_has_nothing_leased(stores: Stores) -> None:
    post = await stores.create()
    await stores.admin.set_paused(stores.account_id, True, stores.now, "operator")
    assert await stores.lease() == []
    await stores.admin.set_paused(stores.account_id, False, stores.now, "operator")
    await stores.publishing.mark_needs_credentials(stores.account_id, "token expired", now=stores.now)
    assert await stores.lease() == []
    stores.sql("UPDATE accounts SET needs_credentials = false WHERE id = %s", stores.account_id)
    until = stores.now + timedelta(minutes=5)
    await stores.publishing.throttle_account(stores.account_id, until, "rate limited", now=stores.now)
    assert await stores.lease() == []
    (leased,) = await stores.lease(until)
    assert leased.id == post
    events = stores.sql("SELECT event FROM processing_logs WHERE account_id = %s AND post_id IS NULL ORDER BY id",
                        stores.account_id)
    assert [e for (e,) in events] == ["account_paused", "account_resumed", "needs_credentials"]
