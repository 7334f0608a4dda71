"""Time zones from the tz database shipped with postsched (the `tzdata` package), never the host's.

A minimal image without /usr/share/zoneinfo, or with a stale one, misresolves names: in a peer
product `TZ='UTC'` shifted every post by an hour. So names are checked against the list in `tzdata`
and loaded from its files, whatever the host has.

The one rule for local times that DST makes odd is `instant` below (RFC 5545 §3.3.5).
"""

from __future__ import annotations

import functools
import importlib.resources
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

MAX_NAME = 64
"""The longest time-zone name accepted (the longest IANA name is 32 characters)."""

_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class UnknownTimeZone(ValueError):
    """Not an IANA time-zone name in the tz database shipped with postsched."""


@functools.lru_cache(maxsize=1)
def names() -> frozenset[str]:
    """Every IANA name `tzdata` holds (links such as US/Eastern included)."""
    listing = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(n for n in (line.strip() for line in listing.splitlines()) if n) - _NOT_ZONES


def zone(name: str) -> ZoneInfo:
    """The zone called `name` (an IANA name such as Europe/Berlin, or UTC), from `tzdata`."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or ".." in name or name not in names():
        shown = repr(name[:MAX_NAME]) if isinstance(name, str) else type(name).__name__
        raise UnknownTimeZone(f"unknown time zone {shown} (an IANA name such as Europe/Berlin)")
    return _load(name)


@functools.lru_cache(maxsize=None)
def _load(name: str) -> ZoneInfo:
    resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with resource.open("rb") as data:
        return ZoneInfo.from_file(data, key=name)


def instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the civil (naive) time `local` in `zone`.

    The rule, RFC 5545 §3.3.5 ("FORM #2: DATE WITH LOCAL TIME AND TIME ZONE REFERENCE"):

        If, based on the definition of the referenced time zone, the local time described occurs
        more than once (when changing from daylight to standard time), the DATE-TIME value refers
        to the first occurrence of the referenced time. Thus, TZID=America/New_York:20071104T013000
        indicates November 4, 2007 at 1:30 A.M. EDT (UTC-04:00). If the local time described does
        not occur (when changing from standard to daylight time), the DATE-TIME value is
        interpreted using the UTC offset before the gap in local times. Thus,
        TZID=America/New_York:20070311T023000 indicates March 11, 2007 at 3:30 A.M. EDT (UTC-04:00),
        one hour after 1:30 A.M. EST (UTC-05:00).

    So a local time that occurs twice (fall back) is the earlier instant, and one that does not
    occur (spring forward) is read with the offset before the gap: 02:30 Europe/Berlin on the
    spring-forward day is 01:30 UTC, i.e. 03:30 CEST. That is what zoneinfo gives with fold=0.
    """
    if local.tzinfo is not None:
        raise ValueError("instant() takes a civil (naive) local time")
    return local.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
