"""The one backoff every retry in postsched uses: base · 2^(n-1), optionally spread by a random
factor in [1, 1 + jitter) so that many retries of the same moment do not come back together, and
capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float
    jitter: float = 0.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base or self.jitter < 0:
            raise ValueError("Backoff needs 0 < base <= cap and jitter >= 0")

    def delay(self, n: int) -> float:
        """The wait before try n + 1, after n tries failed (n >= 1)."""
        exponential = self.base * 2 ** max(0, n - 1)
        if self.jitter:
            exponential *= 1 + self.jitter * self.random()
        return float(min(exponential, self.cap))
