"""Waiting on a signal instead of a fixed sleep: poll a condition until it holds, or fail saying what
was awaited. A fixed sleep before an assertion is either too short on a slow machine (a flaky
failure) or longer than needed everywhere else."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def until(condition: Callable[[], T], *, timeout: float, what: str, every: float = 0.1) -> T:
    """The first truthy value of `condition()`, polled every `every` seconds for up to `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what} (last: {value!r})")
        time.sleep(every)
