"""The publishing quotas Meta enforces, read and respected before a publication is sent.

Instagram caps API-published posts per account over a rolling window (50 a day today), read from
`GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config`: again every
REFRESH_AFTER, and before every publication once the account is within NEAR_LIMIT of its cap.
Facebook Page Reels are capped at 30 a day with no endpoint saying how many were used: they are
counted from postsched's own publications.

Each publication reserves a place first (postsched/store/quotas.py); a full quota raises
RateLimited with the time a place frees up (when the oldest publication in the window leaves it),
so the post waits for the window with a post.waiting event and spends no attempt, and no call is
ever made against the limit.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from postsched.clock import Clock
from postsched.store.quotas import QuotaStore
from postsched.store.records import QuotaRecord
from services.publisher.platforms.graph_api import GraphClient
from services.publisher.platforms.outcomes import PlatformError, RateLimited, Target

log = structlog.get_logger("postsched.publisher.quotas")

INSTAGRAM_POSTS = "instagram_posts"
FACEBOOK_REELS = "facebook_reels"
# Meta's documented caps, used until (or unless) the platform says otherwise.
DEFAULTS = {INSTAGRAM_POSTS: 50, FACEBOOK_REELS: 30}
DAY = timedelta(hours=24)
REFRESH_AFTER = timedelta(minutes=10)
NEAR_LIMIT = 5
# A full quota is read again at most this often (a place may have freed, another tool may have posted).
REREAD_FULL_AFTER = timedelta(seconds=5)
# When the time a place frees up cannot be read, the post looks again after this long.
UNKNOWN_FREE_WAIT = timedelta(minutes=10)
MEDIA_PAGES = 10  # of 100 media: the window of a 1,000-a-day account


class PublishingQuotas:
    def __init__(self, store: QuotaStore, graph: GraphClient, clock: Clock, *, hold: float) -> None:
        self._store = store
        self._graph = graph
        self._clock = clock
        self._hold = timedelta(seconds=hold)  # how long a reservation stands without its outcome
        self.last: dict[tuple[str, str], QuotaRecord] = {}  # by (meter, name): what GetPublisherStatus shows

    async def reserve(self, target: Target, name: str) -> None:
        """Takes a place for one publication about to be sent; RateLimited (until a place frees)
        when the quota is used up."""
        now = self._clock.now()
        account = target.account_id
        quota = await self._store.get(account, name, now=now)
        if quota is None or _stale(quota, now, REFRESH_AFTER) or quota.used >= quota.total - NEAR_LIMIT:
            await self._read(target, name, quota, now)
        reserved = await self._store.reserve(account, name, now=now, hold=self._hold)
        if reserved is None:
            quota = await self._store.get(account, name, now=now)
            if quota is None or _stale(quota, now, REREAD_FULL_AFTER):
                await self._read(target, name, quota, now)
                reserved = await self._store.reserve(account, name, now=now, hold=self._hold)
        if reserved is not None:
            self.last[(target.meter, name)] = reserved
            return
        quota = await self._store.get(account, name, now=now)
        assert quota is not None  # _read saved one
        # Unknown: looked at again after UNKNOWN_FREE_WAIT, and until then every publisher waits
        # without a container made or a read for nothing.
        frees_at = await self._frees_at(target, quota, now) or now + UNKNOWN_FREE_WAIT
        await self._store.full_until(account, name, frees_at, now=now)
        self.last[(target.meter, name)] = quota = replace(quota, frees_at=frees_at)
        raise _full(quota, frees_at, now)

    async def check(self, target: Target, name: str) -> None:
        """RateLimited when the quota is known to be full until a later time (no call made)."""
        now = self._clock.now()
        quota = await self._store.get(target.account_id, name, now=now)
        if quota is not None and quota.used >= quota.total and quota.frees_at and quota.frees_at > now:
            self.last[(target.meter, name)] = quota
            raise _full(quota, quota.frees_at, now)

    async def settle(self, target: Target, name: str, *, published: bool) -> None:
        """After a reserved publication: it went out (the place stays used) or did not (freed)."""
        await self._store.settle(target.account_id, name, published=published, now=self._clock.now())
        if name == FACEBOOK_REELS:
            # Counted, not read: count again now, which includes this Reel once (by its finish
            # marker) instead of once in the count and once more in `used`.
            now = self._clock.now()
            quota = await self._read(target, name, None, now)
            self.last[(target.meter, name)] = quota

    async def _read(self, target: Target, name: str, known: QuotaRecord | None, now: datetime) -> QuotaRecord:
        """The quota as the platform (or our own count) says now, saved for every publisher."""
        try:
            if name == INSTAGRAM_POSTS:
                quota = await self._instagram(target, now)
            else:
                quota = await self._own_reels(target.account_id, now)
        except (PlatformError, ValueError, TypeError, KeyError) as exc:
            # Counting on from what was known; a first read that fails starts from Meta's default.
            log.warning("publishing quota not read; counting on", account_id=str(target.account_id), quota=name,
                        error=getattr(exc, "message", None) or type(exc).__name__)
            if known is not None:
                return known
            quota = QuotaRecord(name, 0, DEFAULTS[name], DAY, None, None)
        # Not over what publishers counted while the read was under way (a publication settled
        # since counts, and the platform may not have shown it yet).
        await self._store.save(target.account_id, quota, now=now)
        return quota

    async def _instagram(self, target: Target, now: datetime) -> QuotaRecord:
        body = await self._graph.call(
            "GET", f"{target.external_id}/content_publishing_limit", token=target.credentials["access_token"],
            meter=target.meter, params={"fields": "quota_usage,config"})
        data = (body.get("data") or [{}])[0]
        config = data.get("config") or {}
        used = int(data.get("quota_usage", 0))
        total = int(config.get("quota_total", DEFAULTS[INSTAGRAM_POSTS]))
        window = timedelta(seconds=int(config.get("quota_duration", DAY.total_seconds())))
        return QuotaRecord(INSTAGRAM_POSTS, used, total, window, now, None)

    async def _frees_at(self, target: Target, quota: QuotaRecord, now: datetime) -> datetime | None:
        """When enough of the window's publications have left it for one more: the (used - total
        + 1)-th oldest one's time plus the window (None: unknown). `used` counts the places
        reserved by publications under way, which are the newest."""
        try:
            if quota.name == FACEBOOK_REELS:
                times = await self._store.own_reels(target.account_id, since=now - quota.window, now=now)
            else:
                times = await self._instagram_media_times(target, quota.window, now)
        except (PlatformError, ValueError, TypeError, KeyError):
            return None
        return place_frees_at(times, quota, now)

    async def _instagram_media_times(self, target: Target, window: timedelta, now: datetime) -> list[datetime]:
        """When the account's media of the window were published (GET /{ig-user-id}/media)."""
        params: dict[str, object] = {"fields": "timestamp", "since": int((now - window).timestamp()), "limit": 100}
        times: list[datetime] = []
        async for data in self._graph.listing(f"{target.external_id}/media", token=target.credentials["access_token"],
                                              meter=target.meter, params=params, max_pages=MEDIA_PAGES,
                                              what="the account's media"):
            times += [datetime.strptime(str(medium["timestamp"]), "%Y-%m-%dT%H:%M:%S%z") for medium in data]
        return times

    async def _own_reels(self, account_id: uuid.UUID, now: datetime) -> QuotaRecord:
        published = await self._store.own_reels(account_id, since=now - DAY, now=now)
        return QuotaRecord(FACEBOOK_REELS, len(published), DEFAULTS[FACEBOOK_REELS], DAY, None, None)


def place_frees_at(times: list[datetime], quota: QuotaRecord, now: datetime) -> datetime | None:
    """When enough of the window's publications (published at `times`) have left it for one more;
    None when fewer are listed than must leave. `quota.used` also counts places reserved by
    publications under way and publications that cannot be listed (Stories): they are taken as the
    newest. An estimate that is wrong costs one more look when it comes, never an attempt."""
    in_window = sorted(t for t in times if t > now - quota.window)
    leaving = quota.used - quota.total  # this many must leave, and one more
    if not 0 <= leaving < len(in_window):
        return None
    # Meta's timestamps are whole seconds: a second more, so the place has surely freed.
    return in_window[leaving] + quota.window + timedelta(seconds=1)


def _full(quota: QuotaRecord, frees_at: datetime, now: datetime) -> RateLimited:
    return RateLimited(
        f"{_title(quota.name)} is used up ({quota.used} of {quota.total} in {_hours(quota.window)}); "
        f"a place frees up at {frees_at:%Y-%m-%dT%H:%M:%SZ}", retry_after=max(1.0, (frees_at - now).total_seconds()),
        whole_account=False)


def _stale(quota: QuotaRecord, now: datetime, after: timedelta) -> bool:
    return quota.read_at is None or now - quota.read_at > after


def _title(name: str) -> str:
    return {INSTAGRAM_POSTS: "Instagram's publishing limit", FACEBOOK_REELS: "Facebook's Reels publishing limit"}[name]


def _hours(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{window.total_seconds():.0f} s"



