"""An event delivery round without a network or database: order, the cursor, retries, and how many
calls of one tenant are out at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from postsched.clock import Clock
from postsched.store.event_webhooks import Attempt, WebhookRecord
from postsched.store.events import EventRecord
from services.publisher.event_delivery import EventDelivery

NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


class FixedClock(Clock):
    def now(self) -> datetime:
        return NOW


class Scripted(EventDelivery):
    """Answers each event's call as told (sequence -> delivered?), counting calls out at once."""

    def __init__(self, answers: dict[int, bool], in_flight: int) -> None:
        super().__init__(None, None, None, FixedClock(), owner="test", timeout=1.0, retry_max=60.0,  # type: ignore[arg-type]
                         concurrency=1, in_flight=lambda tenant: in_flight)
        self.answers = answers
        self.calls: list[int] = []
        self.out = self.most_out = 0

    async def _post(self, hook: WebhookRecord, event: EventRecord) -> Attempt:
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        await asyncio.sleep(0.01)
        self.out -= 1
        self.calls.append(event.sequence)
        ok = self.answers.get(event.sequence, True)
        return Attempt(ok, 200 if ok else 500, None if ok else "HTTP 500", 10)


def hook(delivered: int = 0) -> WebhookRecord:
    return WebhookRecord(tenant_id="acme", url="https://hooks.example.com/e", secret=b"", delivered=delivered,
                         head_attempts=0, head_first_attempt_at=None, next_attempt_at=None, last_error=None,
                         updated_at=NOW)


def events(n: int) -> list[EventRecord]:
    return [EventRecord(event_id=uuid.uuid4(), sequence=i, type="post.published", tenant_id="acme", post_id=None,
                        account_id=None, occurred_at=NOW, message="", data={}) for i in range(1, n + 1)]


async def test_one_at_a_time_in_order_stopping_at_a_failure() -> None:
    delivery = Scripted({3: False}, in_flight=1)
    round_ = await delivery._deliver(hook(), events(5))
    assert delivery.calls == [1, 2, 3] and delivery.most_out == 1
    assert round_.delivered == 2 and round_.head_attempts == 1 and round_.last_error == "HTTP 500"
    assert round_.next_attempt_at == NOW + timedelta(seconds=1)
    assert [(a.sequence, a.outcome) for a in round_.attempts] == [(1, "delivered"), (2, "delivered"), (3, "retrying")]


async def test_a_window_sends_several_at_once_and_the_cursor_moves_over_the_first_ones_only() -> None:
    delivery = Scripted({2: False}, in_flight=3)
    round_ = await delivery._deliver(hook(), events(6))
    assert sorted(delivery.calls) == [1, 2, 3] and delivery.most_out == 3
    assert round_.delivered == 1  # 3 went out beside the failure: sent again after 2
    assert [(a.sequence, a.outcome) for a in round_.attempts] == [(1, "delivered"), (2, "retrying"), (3, "delivered")]


async def test_an_event_failing_for_three_days_is_given_up_and_the_next_ones_go() -> None:
    delivery = Scripted({1: False}, in_flight=1)
    stuck = WebhookRecord(**{**hook().__dict__, "head_attempts": 40, "head_first_attempt_at": NOW - timedelta(days=3)})
    round_ = await delivery._deliver(stuck, events(3))
    assert round_.delivered == 3 and round_.attempts[0].outcome == "given_up" and round_.attempts[0].attempt == 41
