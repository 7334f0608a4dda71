"""The hourly clean-up: published posts, events and webhook delivery attempts older than
POSTSCHED_RETENTION_DAYS are deleted (events a webhook has yet to deliver are kept)."""

from __future__ import annotations

from datetime import timedelta

import structlog

from postsched.clock import Clock
from postsched.store.admin import AdminStore

log = structlog.get_logger("postsched.admin")
PERIOD_SECONDS = 3600.0


class RetentionCleaner:
    period = PERIOD_SECONDS

    def __init__(self, store: AdminStore, clock: Clock, *, retention_days: float) -> None:
        self._store = store
        self._clock = clock
        self._retention = timedelta(days=retention_days)

    async def run_once(self) -> int:
        cutoff = self._clock.now() - self._retention
        deleted = await self._store.clear_published(cutoff)
        if deleted:
            log.info("cleared published posts past retention", deleted=deleted)
        events = await self._store.clear_events(cutoff)
        if events:
            log.info("cleared events past retention", deleted=events)
        return deleted
