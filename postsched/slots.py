"""A weekly posting schedule: slots as (ISO weekday, local "HH:MM") in a time zone.

Each slot is a civil time that recurs every week; it becomes an instant by `timezones.instant`
(RFC 5545 §3.3.5: a local time that occurs twice is the earlier instant; one that does not occur,
such as 02:30 on a spring-forward day, is read with the offset before the gap, i.e. 03:30 summer
time). Two slots that become the same instant (02:30 and 03:30 on that day) are one slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from postsched import timezones

MAX_SLOTS = 500
MAX_AFTER = 10_000
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_FIRST_DAY, _LAST_DAY = datetime(2, 1, 1), datetime(9998, 12, 30)
_MARGIN = timedelta(days=1)  # local time is UTC ± at most 16 h


class SlotError(ValueError):
    """A slot that postsched does not accept: `index` into the slots given (None: the whole list)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        self.message = message
        self.index = index
        super().__init__(message if index is None else f"slots[{index}]: {message}")


@dataclass(frozen=True)
class WeeklySchedule:
    zone: ZoneInfo
    slots: tuple[tuple[int, time], ...]
    """(ISO weekday 1 = Monday .. 7 = Sunday, local time), sorted."""

    @classmethod
    def parse(cls, zone: ZoneInfo, slots: Sequence[tuple[int, str]]) -> WeeklySchedule:
        """The schedule of 1 to 500 distinct slots (ISO weekday 1..7, "HH:MM" 00:00..23:59)."""
        if not isinstance(zone, ZoneInfo):
            raise SlotError("the time zone must be a ZoneInfo")
        if isinstance(slots, (str, bytes)) or not isinstance(slots, Sequence) or not 1 <= len(slots) <= MAX_SLOTS:
            raise SlotError(f"a schedule has 1 to {MAX_SLOTS} slots")
        seen: dict[tuple[int, time], int] = {}
        for index, slot in enumerate(slots):
            if not isinstance(slot, tuple) or len(slot) != 2:
                raise SlotError("a slot is (ISO weekday, 'HH:MM')", index)
            day, text = slot
            if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
                raise SlotError(f"weekday must be 1 (Monday) to 7 (Sunday), not {day!r:.20}", index)
            match = _HH_MM.fullmatch(text) if isinstance(text, str) else None
            if match is None:
                raise SlotError(f"time must be HH:MM from 00:00 to 23:59, not {text!r:.20}", index)
            key = (day, time(int(match[1]), int(match[2])))
            if key in seen:
                raise SlotError(f"the same slot as slots[{seen[key]}] ({day} {text})", index)
            seen[key] = index
        return cls(zone, tuple(sorted(seen)))

    def after(self, t: datetime, count: int) -> list[datetime]:
        """The next `count` (1 to 10000) slot instants strictly after the aware `t`: UTC, in order,
        each once."""
        if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
            raise ValueError("t must be an aware datetime")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_AFTER:
            raise ValueError(f"count must be from 1 to {MAX_AFTER}")
        found: set[datetime] = set()
        stop: datetime | None = None
        for local in self._locals_from(t.astimezone(timezone.utc).replace(tzinfo=None)):
            # Civil times come in order; no later one is an instant before local - 1 day.
            if stop is not None and local - _MARGIN > stop:
                break
            at = timezones.instant(local, self.zone)
            if at > t:
                found.add(at)
                if stop is None and len(found) >= count:
                    stop = sorted(found)[count - 1].replace(tzinfo=None)
        return sorted(found)[:count]

    def _locals_from(self, utc: datetime) -> Iterator[datetime]:
        """The slots' civil times from a day before `utc` (naive UTC) on, in order."""
        day = max((utc - _MARGIN).date() if utc.year > 2 else _FIRST_DAY.date(), _FIRST_DAY.date())
        by_day: dict[int, list[time]] = {}
        for weekday, at in self.slots:
            by_day.setdefault(weekday, []).append(at)
        while day <= _LAST_DAY.date():
            for at in by_day.get(day.isoweekday(), ()):
                yield datetime.combine(day, at)
            day += timedelta(days=1)
