"""The never-twice core, without processes: Attempts.run's decision for every kind of answer, with a
fake adapter and a fake store (the store's SQL is tested against PostgreSQL elsewhere).

Each row: what the platform does (on publish, and on a lookup), what the post has behind it, and
the decision that must follow — above all, how many times publish() was called.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.fernet import Fernet

from postsched.clock import FixedClock
from postsched.credentials import CredentialBox
from postsched.lifecycle import PostStatus
from postsched.store.posts.publishing import ClaimedPost
from services.publisher import attempt as attempt_module
from services.publisher.account_slots import AccountSlots
from services.publisher.attempt import Attempts, Decision, Reply
from services.publisher.leases import LeaseKeeper
from services.publisher.platforms.outcomes import (
    Fenced, OutcomeUnknown, Permanent, Post, Progress, RateLimited, Target, Transient,
)
from services.publisher.retry import RetryPolicy
from services.publisher.stats import PublisherStats

NOW = datetime(2027, 1, 5, 12, 0, tzinfo=timezone.utc)
KEY = Fernet.generate_key()
PUBLISHED, FAILED, QUEUED, SCHEDULED = (PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.QUEUED,
                                        PostStatus.SCHEDULED)


@dataclass
class FakeAdapter:
    """Answers publish() and find() from scripts; counts the calls."""

    on_publish: list[Any] = field(default_factory=list)  # each: a platform id, or an exception to raise
    on_find: list[Any] = field(default_factory=list)  # each: a list of ids, or an exception to raise
    repeatable: bool = False
    published: int = 0
    looked: int = 0

    def identifies_by_text(self, post: Post) -> bool:
        return False

    async def publish(self, post: Post, target: Target, progress: Progress) -> str:
        progress.check()
        self.published += 1
        return self._next(self.on_publish)

    async def find(self, post: Post, target: Target) -> list[str]:
        self.looked += 1
        return self._next(self.on_find) if self.on_find else []

    async def permalink(self, platform_id: str, target: Target) -> str:
        return f"https://example.com/{platform_id}"

    @staticmethod
    def _next(script: list[Any]) -> Any:
        answer = script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeStore:
    """What Attempts asks of the store mid-attempt."""

    def __init__(self, holds: bool = True) -> None:
        self.holds = holds
        self.throttled: list[datetime] = []
        self.needs_credentials: list[str] = []

    async def checkpoint(self, post_id: uuid.UUID, epoch: int, state: dict[str, Any]) -> bool:
        return self.holds

    async def throttle_account(self, account_id: uuid.UUID, until: datetime, reason: str, *, now: datetime) -> None:
        self.throttled.append(until)

    async def mark_needs_credentials(self, account_id: uuid.UUID, reason: str, *, now: datetime) -> None:
        self.needs_credentials.append(reason)

    async def same_text_posts(self, *args: Any, **kwargs: Any) -> list[tuple[str, str | None]]:
        return []


def claimed(*, claims: int = 1, attempts: int = 1, needs_credentials: bool = False,
            throttled_until: datetime | None = None, credentials: bytes | None = None) -> ClaimedPost:
    times = [NOW - timedelta(minutes=5 * (claims - 1 - i)) for i in range(claims)]
    return ClaimedPost(
        id=uuid.uuid4(), tenant_id="acme", account_id=uuid.uuid4(), generation=1, text="hello", media_urls=[],
        link="", scheduled_at=NOW, attempts=attempts, claimed_at=NOW,
        platform_state={"claims": [t.isoformat() for t in times]}, trace_context=None, epoch=1,
        platform="facebook_page", external_id="555", needs_credentials=needs_credentials,
        throttled_until=throttled_until,
        credentials=CredentialBox(KEY).seal({"page_token": "t"}) if credentials is None else credentials,
    )


def attempts(adapter: FakeAdapter, store: FakeStore) -> Attempts:
    clock = FixedClock(NOW)
    return Attempts(
        {"facebook_page": adapter}, store, CredentialBox(KEY), clock,  # type: ignore[dict-item,arg-type]
        RetryPolicy(base=10, cap=60, random=lambda: 0.0), PublisherStats(started_at=NOW),
        LeaseKeeper(store, clock, lease=30, max_hold=60), AccountSlots(1),  # type: ignore[arg-type]
        max_deliveries=3, handover_timeout=3600, deadline=30, max_platform_wait=900,
    )


async def decide(adapter: FakeAdapter, post: ClaimedPost, *, delivery: int = 1,
                 store: FakeStore | None = None) -> Decision:
    runner = attempts(adapter, store or FakeStore())
    return await runner.run(post, delivery, runner.hold(post))


@pytest.fixture(autouse=True)
def no_second_look_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attempt_module, "SECOND_LOOK_DELAY", 0.0)


def outcome_of(decision: Decision) -> tuple[PostStatus | None, str | None, Reply]:
    o = decision.outcome
    return (o.status if o else None, o.event if o else None, decision.reply)


# (what publish does, what lookups find, claims so far, delivery) -> (status, event, reply, publish calls)
TABLE = [
    pytest.param(["fb_1"], [], 1, 1, (PUBLISHED, "published", Reply.ACK), 1, id="first attempt publishes"),
    pytest.param([Transient("503")], [], 1, 1, (QUEUED, "attempt_failed", Reply.NAK), 1,
                 id="a transient error before sending is retried by redelivery"),
    pytest.param([Transient("503")], [], 3, 3, (FAILED, "failed", Reply.TERM), 1,
                 id="the third transient error fails the post"),
    pytest.param([Transient("timeout", maybe_published=True)], [["fb_9"]], 1, 1,
                 (PUBLISHED, "published_reconciled", Reply.ACK), 1,
                 id="an ambiguous answer whose post is on the platform is published, not sent again"),
    pytest.param([Transient("timeout", maybe_published=True)], [[], []], 1, 1, (QUEUED, "attempt_failed", Reply.NAK),
                 1, id="an ambiguous answer whose post is surely not there (two looks) is retried"),
    pytest.param([Transient("timeout", maybe_published=True)], [["fb_1", "fb_2"]], 1, 1,
                 (FAILED, "failed", Reply.TERM), 1, id="two candidates: outcome unknown, never a guess"),
    pytest.param([Transient("timeout", maybe_published=True)], [Transient("lookup down")], 1, 1,
                 (None, None, Reply.ACK), 1, id="a lookup that fails leaves the post to the rescuer"),
    pytest.param(["fb_2"], [["fb_1"]], 2, 2, (PUBLISHED, "published_reconciled", Reply.ACK), 0,
                 id="a second attempt looks first and finds the first one's post: no second publish"),
    pytest.param(["fb_2"], [[]], 2, 2, (PUBLISHED, "published", Reply.ACK), 1,
                 id="a second attempt that finds nothing publishes"),
    pytest.param(["fb_2"], [OutcomeUnknown("cannot tell")], 2, 2, (FAILED, "failed", Reply.TERM), 0,
                 id="a second attempt that cannot tell fails outcome_unknown without publishing"),
    pytest.param([Permanent("(#100) invalid")], [], 1, 1, (FAILED, "failed", Reply.TERM), 1,
                 id="a permanent error fails at once"),
    pytest.param([OutcomeUnknown("half an answer")], [], 1, 1, (FAILED, "failed", Reply.TERM), 1,
                 id="an unknown outcome is never retried blindly"),
    pytest.param([RateLimited("(#32) slow down", retry_after=120)], [], 1, 1,
                 (SCHEDULED, "rate_limited", Reply.ACK), 1, id="a rate limit snoozes the post, not its fault"),
    pytest.param([RuntimeError("bug")], [], 1, 1, (None, None, Reply.ACK), 1,
                 id="a crash records nothing: the rescuer reconciles"),
]


@pytest.mark.parametrize("on_publish, on_find, claims, delivery, expected, publish_calls", TABLE)
async def test_the_decision_table(on_publish: list[Any], on_find: list[Any], claims: int, delivery: int,
                                  expected: tuple[Any, ...], publish_calls: int) -> None:
    adapter = FakeAdapter(on_publish=list(on_publish), on_find=list(on_find))
    decision = await decide(adapter, claimed(claims=claims, attempts=claims), delivery=delivery)
    assert outcome_of(decision) == expected
    assert adapter.published == publish_calls


async def test_a_retry_waits_its_backoff_and_holds_the_post_past_it() -> None:
    decision = await decide(FakeAdapter(on_publish=[Transient("503", retry_after=30)]), claimed())
    assert decision.delay == 30  # the platform's hint beats the first backoff (10 s)
    assert decision.outcome is not None and decision.outcome.lease_expires_at == NOW + timedelta(seconds=30 + 3600)


async def test_a_rate_limit_throttles_the_account_in_the_store_and_in_memory() -> None:
    store = FakeStore()
    decision = await decide(FakeAdapter(on_publish=[RateLimited("slow", retry_after=5000)]), claimed(), store=store)
    assert store.throttled == [NOW + timedelta(seconds=900)]  # capped by max_platform_wait
    assert decision.outcome is not None and decision.outcome.attempts_delta == -1  # the attempt is given back


async def test_a_dead_token_marks_the_account() -> None:
    store = FakeStore()
    await decide(FakeAdapter(on_publish=[Permanent("(#190) expired", needs_credentials=True)]), claimed(), store=store)
    assert store.needs_credentials == ["(#190) expired"]


async def test_nothing_is_sent_for_an_account_waiting_for_credentials_or_the_platform() -> None:
    for post in (claimed(needs_credentials=True), claimed(throttled_until=NOW + timedelta(minutes=5))):
        adapter = FakeAdapter(on_publish=["fb_1"])
        assert outcome_of(await decide(adapter, post)) == (SCHEDULED, "rate_limited", Reply.ACK)
        assert adapter.published == 0


async def test_unreadable_credentials_fail_the_post_without_a_call() -> None:
    adapter = FakeAdapter(on_publish=["fb_1"])
    decision = await decide(adapter, claimed(credentials=b"not a sealed box"))
    assert outcome_of(decision) == (FAILED, "failed", Reply.TERM) and adapter.published == 0


async def test_a_fenced_attempt_records_nothing() -> None:
    class Fencing(FakeAdapter):
        async def publish(self, post: Post, target: Target, progress: Progress) -> str:
            raise Fenced("taken over")

    assert outcome_of(await decide(Fencing(), claimed())) == (None, None, Reply.ACK)


async def test_a_publication_carries_its_permalink() -> None:
    decision = await decide(FakeAdapter(on_publish=["fb_1"]), claimed())
    assert decision.outcome is not None and decision.outcome.permalink == "https://example.com/fb_1"
