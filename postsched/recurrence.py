"""Recurring posts: RFC 5545 recurrence lines, as Google Calendar's API takes them.

A recurring post has a civil `start` (a naive local time such as 2027-03-01 09:00), a time zone and a
few lines: one `RRULE:` and/or `RDATE:` lines, and `EXDATE:` lines. The rule is evaluated in civil
local time (python-dateutil, naive datetimes throughout), so 09:00 stays 09:00 across DST changes;
each civil time becomes an instant only at the end, by `timezones.instant` (RFC 5545 §3.3.5: a
local time that occurs twice is the earlier instant; one that does not occur is read with the
offset before the gap, so 02:30 Europe/Berlin on the spring-forward day is 03:30 CEST). Two civil
times that become the same instant (02:30 and 03:30 on that day) are one occurrence.

The set of occurrences is RFC 5545's: `start` (the DTSTART, always the first occurrence; with an
RRULE it must be one of the rule's, which RFC 5545 asks of a DTSTART and which keeps COUNT
unambiguous), the RRULE's, the RDATEs, less the EXDATEs (exact civil times).

Limits, each refused with a `RecurrenceError` naming the line: 1 to 50 lines of at most 1000
characters; at most one RRULE, FREQ HOURLY to YEARLY, INTERVAL up to 1000, COUNT 1 to 10000 (never
with UNTIL); at most 1000 values in an RDATE or EXDATE line, date-times only; no DTSTART or EXRULE
line; at most one occurrence an hour (checked over the first 2000 occurrences, at most ten years,
and around every RDATE); a rule that yields no occurrence. Occurrences after 9998 do not exist here.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, weekday, weekdays

from postsched import timezones

MAX_LINES = 50
MAX_LINE_LENGTH = 1000
"""Values in one RDATE or EXDATE line."""
MAX_COUNT = 10_000
MAX_INTERVAL = 1000
MIN_SPACING = timedelta(hours=1)
"""At most one occurrence an hour: consecutive instants at least this far apart."""
SPACING_CHECKED = 2000
"""How many occurrences from the start the spacing check looks at (and no more than ten years)."""
MAX_NEXT = 10_000
FIRST_YEAR = 1900
LAST_YEAR = 9000
"""Years allowed for `start`, UNTIL, RDATE and EXDATE."""

_LAST_LOCAL = datetime(9998, 12, 30)
# Local time is UTC plus an offset within ±16 h (the widest in tzdata is about 15:56), so the civil
# times of the instants in [a, b] all lie within [a - 1 day, b + 1 day].
_MARGIN = timedelta(days=1)

_FREQS = {"HOURLY": HOURLY, "DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
_DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_DATE_TIME = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})(?:T([0-9]{2})([0-9]{2})([0-9]{2})(Z?))?")
_BYDAY = re.compile(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNSIGNED = re.compile(r"[0-9]{1,5}")
_SIGNED = re.compile(r"[+-]?[0-9]{1,3}")
# name: (lowest, highest, signed) for the BYxxx lists of integers.
_INT_LISTS = {
    "BYSECOND": (0, 59, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}


class RecurrenceError(ValueError):
    """A recurrence that postsched does not accept.

    `line` is the index of the offending line in the list given to `parse`, or None when the
    recurrence as a whole (or its start) is at fault; `message` is one line for a human.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(message if line is None else f"recurrence[{line}]: {message}")


@dataclass(frozen=True)
class Occurrence:
    local: datetime
    """The civil (naive) local time the recurrence names."""
    instant: datetime
    """When that is, aware, in UTC (`timezones.instant`)."""


def parse(lines: Sequence[str], start: datetime, zone: ZoneInfo) -> Recurrence:
    """The recurrence of `lines` from the civil time `start` in `zone`; RecurrenceError if refused."""
    try:
        return _parse(lines, start, zone)
    except RecurrenceError:
        raise
    except (ValueError, TypeError, OverflowError, IndexError, KeyError) as error:  # a bug's last net
        raise RecurrenceError(f"not a recurrence postsched can evaluate ({error})") from error


@functools.lru_cache(maxsize=4096)
def cached(lines: tuple[str, ...], start: datetime, time_zone: str) -> Recurrence:
    """parse() of a stored rule, kept: Get and List answer next_occurrences, and the horizon duty
    evaluates every active rule, without reading the same lines again (a refusal is not kept)."""
    return parse(lines, start, timezones.zone(time_zone))


class Recurrence:
    """A parsed recurrence. Queries take aware instants and return occurrences in instant order."""

    def __init__(
        self,
        *,
        lines: tuple[str, ...],
        start: datetime,
        zone: ZoneInfo,
        rule: dict[str, Any] | None,
        rule_line: int | None,
        rdates: dict[datetime, int | None],
        exdates: frozenset[datetime],
    ) -> None:
        self.lines = lines
        self.start = start
        self.zone = zone
        self._rule = rule
        self._rule_line = rule_line
        self._rdate_lines = rdates
        self._rdates = sorted(rdates)
        self._exdates = exdates

    def __repr__(self) -> str:
        return f"Recurrence({list(self.lines)!r}, start={self.start.isoformat()}, zone={self.zone.key!r})"

    def between(self, after: datetime, until: datetime) -> list[Occurrence]:
        """The occurrences whose instant is strictly after `after` and at or before `until`."""
        lo, hi = _utc_naive(after, "after"), _utc_naive(until, "until")
        if hi <= lo:
            return []
        first = self.start if lo - self.start < _MARGIN else lo - _MARGIN
        last = _LAST_LOCAL if _LAST_LOCAL - hi < _MARGIN else hi + _MARGIN
        return [o for o in self._occurrences(self._locals(first, last)) if after < o.instant <= until]

    def next(self, after: datetime, count: int) -> list[Occurrence]:
        """The first `count` (1 to 10000) occurrences whose instant is strictly after `after`."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_NEXT:
            raise ValueError(f"count must be from 1 to {MAX_NEXT}")
        lo = _utc_naive(after, "after")
        first = self.start if lo - self.start < _MARGIN else lo - _MARGIN
        found: dict[datetime, datetime] = {}
        stop: datetime | None = None
        for local in self._locals(first, _LAST_LOCAL):
            # Instants come nearly in civil order: none later in the stream precedes local - 1 day.
            if stop is not None and local - _MARGIN > stop:
                break
            at = timezones.instant(local, self.zone)
            if at > after and at not in found:
                found[at] = local
                if stop is None and len(found) >= count:
                    stop = sorted(found)[count - 1].replace(tzinfo=None)
        return [Occurrence(found[at], at) for at in sorted(found)[:count]]

    def ended(self, after: datetime) -> bool:
        """True when no occurrence is left after the instant `after`."""
        return not self.next(after, 1)

    def _occurrences(self, locals_: Iterable[datetime]) -> list[Occurrence]:
        """In instant order, one per instant (the earliest civil time naming it)."""
        found: dict[datetime, datetime] = {}
        for local in locals_:
            found.setdefault(timezones.instant(local, self.zone), local)
        return [Occurrence(found[at], at) for at in sorted(found)]

    def _locals(self, first: datetime, last: datetime) -> Iterator[datetime]:
        """The civil times of the occurrences in [first, last], in civil order, each once."""
        sources: list[Iterator[datetime]] = [
            itertools.islice(self._rdates, bisect.bisect_left(self._rdates, first), None)
        ]
        rule = self._rrule_from(first)
        if rule is not None:
            sources.append(rule.xafter(first, inc=True))
        previous = None
        for local in heapq.merge(*sources):
            if local > last:
                return
            if local != previous and local not in self._exdates:
                yield local
            previous = local

    def _rrule_from(self, first: datetime) -> rrule | None:
        """The RRULE, started at a period boundary at or before `first` when that gives the same
        occurrences from `first` on (no COUNT), so that a rule begun years ago is not iterated
        from its start on every query."""
        if self._rule is None:
            return None
        kwargs = self._rule
        anchor = _anchor(kwargs, self.start, first) if kwargs["count"] is None else None
        return rrule(dtstart=anchor or self.start, **kwargs)


def _parse(lines: Sequence[str], start: datetime, zone: ZoneInfo) -> Recurrence:
    if not isinstance(start, datetime) or start.tzinfo is not None:
        raise RecurrenceError("start must be a civil local time without an offset, such as 2027-03-01T09:00:00")
    if start.microsecond or not FIRST_YEAR <= start.year <= LAST_YEAR:
        raise RecurrenceError(f"start must be whole seconds in the years {FIRST_YEAR} to {LAST_YEAR}")
    if not isinstance(zone, ZoneInfo):
        raise RecurrenceError("the time zone must be a ZoneInfo")
    if isinstance(lines, (str, bytes)) or not isinstance(lines, Sequence):
        raise RecurrenceError("recurrence must be a list of lines such as 'RRULE:FREQ=DAILY'")
    if not 1 <= len(lines) <= MAX_LINES:
        raise RecurrenceError(f"recurrence must have 1 to {MAX_LINES} lines, not {len(lines)}")
    rule: dict[str, Any] | None = None
    rule_line: int | None = None
    rdates: dict[datetime, int | None] = {}
    exdates: set[datetime] = set()
    for index, raw in enumerate(lines):
        line = _check_line(raw, index)
        head, colon, value = line.partition(":")
        params = head.split(";")
        name = params[0].strip().upper()
        if not colon:
            raise RecurrenceError("expected NAME:VALUE, such as RRULE:FREQ=DAILY", index)
        if name == "RRULE":
            if rule is not None:
                raise RecurrenceError(f"a second RRULE (line {rule_line} has one); at most one is allowed", index)
            if len(params) > 1:
                raise RecurrenceError("RRULE takes no parameters", index)
            rule, rule_line = _parse_rrule(value, start, zone, index), index
        elif name in ("RDATE", "EXDATE"):
            values = _parse_dates(name, params[1:], value, zone, index)
            if name == "RDATE":
                for local in values:
                    if local < start:
                        raise RecurrenceError(f"RDATE {local.isoformat()} is before start {start.isoformat()}", index)
                    rdates.setdefault(local, index)
            else:
                exdates.update(values)
        elif name == "DTSTART":
            raise RecurrenceError("no DTSTART line: the start is its own field (start_time)", index)
        elif name == "EXRULE":
            raise RecurrenceError("EXRULE is not supported (RFC 5545 deprecates it); use EXDATE", index)
        else:
            shown = name[:20] or "(none)"
            raise RecurrenceError(f"unknown property {shown!r}; expected RRULE:, RDATE: or EXDATE:", index)
    if rule is None:
        if not rdates:
            raise RecurrenceError("need an RRULE line or at least one RDATE line")
        rdates.setdefault(start, None)  # RFC 5545: the set is DTSTART and the RDATEs
    else:
        _check_start_is_an_occurrence(rule, start, rule_line)
    recurrence = Recurrence(
        lines=tuple(lines),
        start=start,
        zone=zone,
        rule=rule,
        rule_line=rule_line,
        rdates=rdates,
        exdates=frozenset(exdates),
    )
    if next(recurrence._locals(start, _LAST_LOCAL), None) is None:
        raise RecurrenceError("the recurrence yields no occurrence (EXDATE removes every one)")
    _check_spacing(recurrence)
    return recurrence


def _check_line(raw: object, index: int) -> str:
    if not isinstance(raw, str):
        raise RecurrenceError("each line must be a string", index)
    if len(raw) > MAX_LINE_LENGTH:
        raise RecurrenceError(f"line longer than {MAX_LINE_LENGTH} characters", index)
    if "\x00" in raw:
        raise RecurrenceError("line contains a NUL character", index)
    line = raw.strip()
    if not line:
        raise RecurrenceError("empty line", index)
    if not line.isascii() or not line.isprintable():
        raise RecurrenceError("line contains a control or non-ASCII character", index)
    return line


def _parse_rrule(value: str, start: datetime, zone: ZoneInfo, index: int) -> dict[str, Any]:
    parts: dict[str, str] = {}
    for part in value.upper().split(";"):
        key, equals, text = part.partition("=")
        key = key.strip()
        if not equals or not key or not text:
            raise RecurrenceError(f"RRULE part {part[:40]!r} is not NAME=VALUE", index)
        if key in parts:
            raise RecurrenceError(f"RRULE has {key} twice", index)
        parts[key] = text.strip()

    def fail(message: str) -> RecurrenceError:
        return RecurrenceError(f"RRULE: {message}", index)

    unknown = sorted(set(parts) - {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST", *_INT_LISTS})
    if unknown:
        raise fail(f"unknown or unsupported part {unknown[0][:20]}")
    if "FREQ" not in parts:
        raise fail("FREQ is required (HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY)")
    if parts["FREQ"] in ("MINUTELY", "SECONDLY"):
        raise fail(f"FREQ={parts['FREQ']} is not allowed: at most one occurrence an hour")
    if parts["FREQ"] not in _FREQS:
        raise fail(f"FREQ must be HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY, not {parts['FREQ'][:20]}")
    freq = _FREQS[parts["FREQ"]]
    if "COUNT" in parts and "UNTIL" in parts:
        raise fail("COUNT and UNTIL together (RFC 5545 allows one of them)")

    def number(key: str, highest: int) -> int | None:
        if key not in parts:
            return None
        if not _UNSIGNED.fullmatch(parts[key]) or not 1 <= int(parts[key]) <= highest:
            raise fail(f"{key} must be a whole number from 1 to {highest}")
        return int(parts[key])

    lists: dict[str, list[int] | None] = {}
    for key, (lowest, highest, signed) in _INT_LISTS.items():
        lists[key] = None
        if key in parts:
            items = parts[key].split(",")
            ok = all(
                _SIGNED.fullmatch(item) and (signed or item[0] not in "+-") and lowest <= abs(int(item)) <= highest
                for item in items
            )
            if not ok:
                sign = "±" if signed else ""
                raise fail(f"{key} must be a comma-separated list of {sign}{lowest} to {sign}{highest}")
            lists[key] = sorted({int(item) for item in items})

    byday: list[weekday] | None = None
    if "BYDAY" in parts:
        byday = []
        for item in parts["BYDAY"].split(","):
            match = _BYDAY.fullmatch(item)
            if not match or (match[1] is not None and not 1 <= abs(int(match[1])) <= 53):
                raise fail(f"BYDAY item {item[:12]!r} is not a day such as MO, 1MO or -1FR")
            nth = int(match[1]) if match[1] is not None else None
            if nth is not None and freq not in (MONTHLY, YEARLY):
                raise fail("BYDAY with a number (such as 1MO) needs FREQ=MONTHLY or YEARLY")
            if nth is not None and freq == YEARLY and lists["BYWEEKNO"] is not None:
                raise fail("BYDAY with a number cannot go with BYWEEKNO")
            day = weekdays[_DAYS[match[2]]]
            byday.append(day if nth is None else day(nth))
    wkst = 0
    if "WKST" in parts:
        if parts["WKST"] not in _DAYS:
            raise fail("WKST must be MO, TU, WE, TH, FR, SA or SU")
        wkst = _DAYS[parts["WKST"]]
    # RFC 5545 §3.3.10's table of which BYxxx go with which FREQ.
    if lists["BYWEEKNO"] is not None and freq != YEARLY:
        raise fail("BYWEEKNO needs FREQ=YEARLY")
    if lists["BYYEARDAY"] is not None and freq in (DAILY, WEEKLY, MONTHLY):
        raise fail("BYYEARDAY cannot go with FREQ=DAILY, WEEKLY or MONTHLY")
    if lists["BYMONTHDAY"] is not None and freq == WEEKLY:
        raise fail("BYMONTHDAY cannot go with FREQ=WEEKLY")
    if lists["BYSETPOS"] is not None and byday is None and all(
        lists[k] is None for k in _INT_LISTS if k != "BYSETPOS"
    ):
        raise fail("BYSETPOS needs another BY part")

    until: datetime | None = None
    if "UNTIL" in parts:
        until = _parse_until(parts["UNTIL"], zone, fail)
        if until < start:
            raise fail(f"UNTIL {until.isoformat()} is before start {start.isoformat()}")

    bymonthday = lists["BYMONTHDAY"]
    bymonth = lists["BYMONTH"]
    if byday is None and bymonthday is None and lists["BYYEARDAY"] is None and lists["BYWEEKNO"] is None:
        # dateutil's defaults from DTSTART, made explicit so the rule can be started anew later
        # (Recurrence._rrule_from) and mean the same.
        if freq == YEARLY:
            bymonth = bymonth or [start.month]
            bymonthday = [start.day]
        elif freq == MONTHLY:
            bymonthday = [start.day]
        elif freq == WEEKLY:
            byday = [weekdays[start.weekday()]]
    byhour = lists["BYHOUR"]
    if byhour is None and freq != HOURLY:
        byhour = [start.hour]
    return {
        "freq": freq,
        "interval": number("INTERVAL", MAX_INTERVAL) or 1,
        "count": number("COUNT", MAX_COUNT),
        "until": until,
        "wkst": wkst,
        "bysetpos": lists["BYSETPOS"],
        "bymonth": bymonth,
        "bymonthday": bymonthday,
        "byyearday": lists["BYYEARDAY"],
        "byweekno": lists["BYWEEKNO"],
        "byweekday": byday,
        "byhour": byhour,
        "byminute": lists["BYMINUTE"] or [start.minute],
        "bysecond": lists["BYSECOND"] or [start.second],
    }


def _parse_until(text: str, zone: ZoneInfo, fail: Any) -> datetime:
    match = _DATE_TIME.fullmatch(text)
    value = _date_time(match) if match else None
    if value is None or match is None:
        raise fail("UNTIL must be a date (20270301), a local date-time (20270301T090000) or UTC (20270301T080000Z)")
    if match[4] is None:  # a date: the whole of that day
        return datetime.combine(value.date(), time(23, 59, 59))
    if match[7]:
        return _local(value.replace(tzinfo=timezone.utc), zone)
    return value


def _parse_dates(name: str, params: list[str], value: str, zone: ZoneInfo, index: int) -> list[datetime]:
    source: ZoneInfo | None = None
    for param in params:
        key, _, text = param.partition("=")
        key = key.strip().upper()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if key == "TZID" and source is None:
            try:
                source = timezones.zone(text)
            except timezones.UnknownTimeZone as error:
                raise RecurrenceError(f"{name}: {error}", index) from None
        elif key == "VALUE" and text.upper() == "DATE-TIME":
            continue
        elif key == "VALUE":
            raise RecurrenceError(f"{name}: only date-times are supported (not VALUE={text[:12]})", index)
        else:
            raise RecurrenceError(f"{name}: unsupported parameter {param[:30]!r}", index)
    items = value.split(",")  # at most 66 (MAX_LINE_LENGTH bounds them)
    out = []
    for item in items:
        item = item.strip()
        match = _DATE_TIME.fullmatch(item)
        local = _date_time(match) if match else None
        if match is None or local is None:
            raise RecurrenceError(
                f"{name}: {item[:30]!r} is not a date-time such as 20270301T090000 or 20270301T080000Z", index
            )
        if match[4] is None:
            raise RecurrenceError(f"{name}: {item} is a date; give a date-time such as {item}T090000", index)
        if match[7] and source is not None:
            raise RecurrenceError(f"{name}: {item} is UTC and has a TZID", index)
        if match[7]:
            local = _local(local.replace(tzinfo=timezone.utc), zone)
        elif source is not None:
            local = _local(local.replace(tzinfo=source, fold=0), zone)
        out.append(local)
    return out


def _date_time(match: re.Match[str]) -> datetime | None:
    """The naive datetime of a _DATE_TIME match, None when no such time or out of the years allowed."""
    try:
        year, month, day, hour, minute, second = (int(match[i] or 0) for i in range(1, 7))
        value = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return value if FIRST_YEAR <= value.year <= LAST_YEAR else None


def _local(aware: datetime, zone: ZoneInfo) -> datetime:
    return aware.astimezone(zone).replace(tzinfo=None, fold=0)


def _utc_naive(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _check_start_is_an_occurrence(rule: dict[str, Any], start: datetime, line: int | None) -> None:
    """RFC 5545: DTSTART is the first occurrence, and SHOULD be one of the rule's. Checked on a copy
    moved by whole 400-year Gregorian cycles (same weekdays, same leap years) to just before year
    9999, so that a rule with no occurrence at all (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) costs dateutil
    at most 400 years of search, not 8000."""
    shift = (9998 - start.year) // 400 * 400
    probe = dict(rule, until=None, count=1)
    moved = start.replace(year=start.year + shift)
    if next(iter(rrule(dtstart=moved, **probe)), None) != moved:
        raise RecurrenceError(
            f"start {start.isoformat()} is not an occurrence of the RRULE; start at its first occurrence"
            " (RFC 5545: DTSTART is the first occurrence)",
            line,
        )


def _anchor(rule: dict[str, Any], start: datetime, first: datetime) -> datetime | None:
    """The start of the last period of the rule (a whole number of INTERVALs after start's period)
    at or before `first`, or None when that is start's own period. With every BYxxx explicit and no
    COUNT, the rule started there yields exactly the original occurrences from there on."""
    freq, interval = rule["freq"], rule["interval"]
    if freq == MONTHLY:
        months = (first.year - start.year) * 12 + first.month - start.month
        k = months // interval
        if k <= 0:
            return None
        month = start.year * 12 + start.month - 1 + k * interval
        return datetime(month // 12, month % 12 + 1, 1)
    if freq == YEARLY:
        k = (first.year - start.year) // interval
        return datetime(start.year + k * interval, 1, 1) if k > 0 else None
    if freq == HOURLY:
        period, step = start.replace(minute=0, second=0), timedelta(hours=interval)
    elif freq == DAILY:
        period, step = datetime.combine(start.date(), time()), timedelta(days=interval)
    else:
        week = start.date() - timedelta(days=(start.weekday() - rule["wkst"]) % 7)
        period, step = datetime.combine(week, time()), timedelta(weeks=interval)
    k = (first - period) // step
    return period + k * step if k > 0 else None


def _check_spacing(recurrence: Recurrence) -> None:
    """At most one occurrence an hour: over the first occurrences, and around each RDATE beyond."""
    start = recurrence.start
    horizon = min(start.replace(year=min(start.year + 10, 9990), day=min(start.day, 28)), _LAST_LOCAL)
    checked = list(itertools.islice(recurrence._locals(start, horizon), SPACING_CHECKED))
    _check_gaps(recurrence, checked)
    covered = checked[-1] - _MARGIN if checked else start
    windows: list[tuple[datetime, datetime]] = []
    for rdate in recurrence._rdates:
        if rdate <= covered:
            continue
        lo, hi = rdate - _MARGIN, min(rdate + _MARGIN, _LAST_LOCAL)
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], hi)
        else:
            windows.append((lo, hi))
    for lo, hi in windows:
        _check_gaps(recurrence, recurrence._locals(max(lo, start), hi))


def _check_gaps(recurrence: Recurrence, locals_: Iterable[datetime]) -> None:
    occurrences = recurrence._occurrences(locals_)
    for a, b in itertools.pairwise(occurrences):
        if b.instant - a.instant < MIN_SPACING:
            # Blame an RDATE's line when one of the two is an RDATE (not the start), else the RRULE's.
            rdate_lines = [recurrence._rdate_lines.get(o.local) for o in (b, a)]
            line = next((n for n in rdate_lines if n is not None), recurrence._rule_line)
            raise RecurrenceError(
                f"occurrences {a.local.isoformat()} and {b.local.isoformat()} ({recurrence.zone.key}) are less"
                " than an hour apart: at most one occurrence an hour",
                line,
            )
