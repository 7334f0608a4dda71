"""Weekly posting schedules (postsched/slots.py): slots in local time, DST by RFC 5545 §3.3.5."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from postsched import timezones
from postsched.slots import SlotError, WeeklySchedule

UTC = timezone.utc
BERLIN = timezones.zone("Europe/Berlin")
NEW_YORK = timezones.zone("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_slots_in_order_across_the_week() -> None:
    schedule = WeeklySchedule.parse(BERLIN, [(3, "18:30"), (1, "09:00"), (1, "17:00")])
    # 2027-01-04 is a Monday; Berlin is UTC+1 in January.
    assert schedule.after(utc(2027, 1, 4, 8), 5) == [
        utc(2027, 1, 4, 16),
        utc(2027, 1, 6, 17, 30),
        utc(2027, 1, 11, 8),
        utc(2027, 1, 11, 16),
        utc(2027, 1, 13, 17, 30),
    ]
    # Strictly after: a slot at t itself is not returned.
    assert schedule.after(utc(2027, 1, 4, 16), 1) == [utc(2027, 1, 6, 17, 30)]
    # An offset other than UTC on t means the same instant.
    assert schedule.after(datetime(2027, 1, 4, 9, tzinfo=BERLIN), 1) == [utc(2027, 1, 4, 16)]


def test_slots_keep_local_time_across_dst() -> None:
    schedule = WeeklySchedule.parse(NEW_YORK, [(1, "18:30"), (3, "18:30")])
    year = schedule.after(utc(2027, 1, 1), 104)
    assert len(year) == 104 and year == sorted(year) and year[-1].year == 2027
    for at in year:
        local = at.astimezone(ZoneInfo("America/New_York"))
        assert (local.isoweekday() in (1, 3), local.strftime("%H:%M")) == (True, "18:30")
        assert at == local.replace(tzinfo=None).replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    assert {a.astimezone(ZoneInfo("America/New_York")).utcoffset() for a in year} == {
        timedelta(hours=-5), timedelta(hours=-4)
    }


def test_the_nonexistent_and_the_repeated_hour() -> None:
    # 2027-03-28 and 2027-10-31 are Sundays in Berlin's DST changes.
    gap = WeeklySchedule.parse(BERLIN, [(7, "02:30")])
    assert gap.after(utc(2027, 3, 27), 1) == [utc(2027, 3, 28, 1, 30)]  # 03:30 CEST
    assert gap.after(utc(2027, 10, 30), 1) == [utc(2027, 10, 31, 0, 30)]  # the first 02:30 (CEST)


def test_two_slots_on_one_instant_count_once() -> None:
    schedule = WeeklySchedule.parse(BERLIN, [(7, "02:30"), (7, "03:30")])
    assert schedule.after(utc(2027, 3, 27), 3) == [
        utc(2027, 3, 28, 1, 30),  # 02:30 (moved to 03:30 CEST) and 03:30 CEST: one slot
        utc(2027, 4, 4, 0, 30),
        utc(2027, 4, 4, 1, 30),
    ]


def test_after_in_a_far_future_and_many() -> None:
    schedule = WeeklySchedule.parse(timezones.zone("UTC"), [(d, f"{h:02}:00") for d in range(1, 8) for h in range(24)])
    got = schedule.after(utc(2030, 6, 1, 0, 30), 500)
    assert got == [utc(2030, 6, 1, 1) + timedelta(hours=n) for n in range(500)]


@pytest.mark.parametrize(
    ("slots", "index", "words"),
    [
        ([(0, "09:00")], 0, "weekday"),
        ([(8, "09:00")], 0, "weekday"),
        ([(True, "09:00")], 0, "weekday"),
        ([(1, "9:00")], 0, "HH:MM"),
        ([(1, "24:00")], 0, "HH:MM"),
        ([(1, "09:60")], 0, "HH:MM"),
        ([(1, "09:00:00")], 0, "HH:MM"),
        ([(1, "٠٩:٠٠")], 0, "HH:MM"),
        ([(1, 900)], 0, "HH:MM"),
        ([(1, "09:00"), (2, "09:00"), (1, "09:00")], 2, "slots[0]"),
        ([(1, "09:00", "x")], 0, "a slot is"),
        ([], None, "1 to 500"),
        ([(d, f"{h:02}:{m:02}") for d in range(1, 8) for h in range(24) for m in (0, 20, 40)], None, "1 to 500"),
    ],
)
def test_refused(slots: list[tuple[int, str]], index: int | None, words: str) -> None:
    with pytest.raises(SlotError) as caught:
        WeeklySchedule.parse(BERLIN, slots)
    assert words in caught.value.message
    assert caught.value.index == index


def test_after_needs_an_aware_time_and_a_count() -> None:
    schedule = WeeklySchedule.parse(BERLIN, [(1, "09:00")])
    with pytest.raises(ValueError):
        schedule.after(datetime(2027, 1, 1), 1)
    with pytest.raises(ValueError):
        schedule.after(utc(2027, 1, 1), 0)
