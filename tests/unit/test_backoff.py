"""The one backoff (postsched/backoff.py) and the retries built on it."""

from __future__ import annotations

import pytest

from postsched.backoff import Backoff
from postsched.duties import backoff as duty_backoff
from services.dispatcher.handover import RETRY_BACKOFF
from services.publisher.retry import RetryPolicy


def test_it_doubles_is_capped_and_jitter_only_spreads_upwards() -> None:
    plain = Backoff(0.5, 30.0)
    assert [plain.delay(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert Backoff(1.0, 100.0, jitter=1.0, random=lambda: 0.5).delay(3) == 6.0
    assert Backoff(1.0, 5.0, jitter=1.0, random=lambda: 0.99).delay(10) == 5.0
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)


def test_the_retries_use_it() -> None:
    assert [duty_backoff(n) for n in (1, 2, 3, 50)] == [0.5, 1.0, 2.0, 30.0]
    assert [RETRY_BACKOFF.delay(n) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0]
    policy = RetryPolicy(10.0, 900.0, random=lambda: 0.0)
    assert [policy.delay(n) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
    assert policy.delay(1, platform_hint=120.0) == 120.0
    assert RetryPolicy(10.0, 900.0, random=lambda: 0.999).delay(20) == 900.0
