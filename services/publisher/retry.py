"""The retry policy: a small, pure object (after dramatiq's and River's)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from postsched.backoff import Backoff


@dataclass(frozen=True)
class RetryPolicy:
    """Delay before delivery n+1 after a transient failure of delivery n: base * 2^(n-1), times a
    jitter in [1, 2) so retries of many posts spread out, capped at `cap`; never shorter than
    what the platform asked for."""

    base: float
    cap: float
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("RetryPolicy needs 0 < base <= cap")

    @cached_property
    def _backoff(self) -> Backoff:
        return Backoff(self.base, self.cap, jitter=1.0, random=self.random)

    def delay(self, delivery: int, platform_hint: float | None = None) -> float:
        return max(self._backoff.delay(delivery), platform_hint or 0.0)
