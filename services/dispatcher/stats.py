"""Counters the dispatcher reports in GetDispatcherStatus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class DispatcherStats:
    started_at: datetime
    last_tick_at: datetime | None = None
    next_tick_at: datetime | None = None
    leased_total: int = 0
    published_total: int = 0
    rescued_total: int = 0
    released_total: int = 0
    publish_failures_total: int = 0
