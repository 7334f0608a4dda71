"""When a full publishing quota frees a place: the pure rule behind post.waiting's time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from postsched.store.records import QuotaRecord
from services.publisher.quotas import place_frees_at

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(hours=24)


def quota(used: int, total: int = 50) -> QuotaRecord:
    return QuotaRecord("instagram_posts", used, total, DAY, NOW, None)


def test_one_place_frees_when_the_oldest_publication_leaves_the_window() -> None:
    times = [NOW - timedelta(hours=h) for h in range(1, 51)]  # 50 in the last 50 hours: 23 in the window
    in_window = [t for t in times if t > NOW - DAY]
    assert place_frees_at(in_window, quota(len(in_window), len(in_window)), NOW) == \
        min(in_window) + DAY + timedelta(seconds=1)


def test_over_the_cap_more_must_leave() -> None:
    """52 used of 50 (the cap was lowered, or reservations are under way): three must leave."""
    times = [NOW - timedelta(minutes=10 * i) for i in range(52)]
    oldest_first = sorted(times)
    assert place_frees_at(times, quota(52), NOW) == oldest_first[2] + DAY + timedelta(seconds=1)


def test_too_few_listed_publications_make_it_unknown() -> None:
    """Fewer listed than must leave: the rest were published by means that cannot be listed."""
    assert place_frees_at([NOW - timedelta(hours=1)] * 3, quota(53), NOW) is None
    assert place_frees_at([], quota(50), NOW) is None


def test_an_estimate_from_what_is_listed() -> None:
    """Those that cannot be listed (Stories, reservations under way) are taken as newer: if that
    is wrong, the post asks again at that time and waits again, spending nothing."""
    assert place_frees_at([NOW - timedelta(hours=1)] * 3, quota(50), NOW) == NOW - timedelta(hours=1) + DAY + \
        timedelta(seconds=1)


def test_publications_older_than_the_window_do_not_count() -> None:
    times = [NOW - DAY - timedelta(minutes=1), NOW - timedelta(hours=2), NOW - timedelta(hours=1)]
    assert place_frees_at(times, quota(2, 2), NOW) == NOW - timedelta(hours=2) + DAY + timedelta(seconds=1)
