"""The retry policy: a small, pure object (after dramatiq's and River's)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable


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

    def delay(self, delivery: int, platform_hint: float | None = None) -> float:
        exponential = self.base * 2 ** max(0, delivery - 1) * (1 + self.random())
        return max(min(exponential, self.cap), platform_hint or 0.0)
