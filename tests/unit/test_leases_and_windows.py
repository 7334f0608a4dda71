"""Units: the windows a Facebook lookup searches, and an attempt's lease as it knows it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.publisher.leases import SAFETY_SHARE, AttemptLease
from services.publisher.platforms.facebook import LOOKBACK, windows
from services.publisher.platforms.outcomes import Fenced

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_each_attempt_has_a_window_and_overlapping_ones_merge() -> None:
    claims = (T0, T0 + timedelta(seconds=30), T0 + timedelta(hours=2))
    assert windows(claims, attempt_span=60) == [
        (T0 - LOOKBACK, T0 + timedelta(seconds=90) + LOOKBACK),
        (T0 + timedelta(hours=2) - LOOKBACK, T0 + timedelta(hours=2, seconds=60) + LOOKBACK),
    ]


def test_an_attempt_may_act_only_while_its_lease_is_confirmed() -> None:
    now = [100.0]
    lease = AttemptLease(uuid.uuid4(), 1, lease=30, monotonic=lambda: now[0])
    lease.check()
    now[0] += 30 * (1 - SAFETY_SHARE) - 0.1
    lease.check()
    lease.renewed(now[0])  # a renewal confirmed now extends it
    now[0] += 20
    lease.check()
    now[0] += 10
    with pytest.raises(Fenced):
        lease.check()  # past the safe part of the lease: no more platform calls


def test_a_fenced_attempt_stays_fenced() -> None:
    lease = AttemptLease(uuid.uuid4(), 1, lease=30, monotonic=lambda: 0.0)
    lease.fence("taken over")
    with pytest.raises(Fenced, match="taken over"):
        lease.check()
    lease.renewed(0.0)
    with pytest.raises(Fenced):
        lease.check()
