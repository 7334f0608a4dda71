"""Counters and per-account rate-limit state the publisher reports in GetPublisherStatus."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class AccountRate:
    """One platform meter's state (outcomes.meter): a Meta Page or IG user, or one webhook account."""

    platform: str
    external_id: str
    account_id: uuid.UUID  # the first postsched account seen for this meter
    throttled_until: datetime | None = None
    reason: str = ""
    app_usage_pct: float | None = None
    business_usage_pct: float | None = None


@dataclass
class PublisherStats:
    started_at: datetime
    in_flight: int = 0
    published: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
    dropped: int = 0
    deferred: int = 0  # messages given back because their account or tenant had its share here
    forged: int = 0  # hand-over messages without a valid signature (or unreadable), dropped
    reconciled: int = 0
    accounts: dict[str, AccountRate] = field(default_factory=dict)  # by meter (outcomes.meter)
