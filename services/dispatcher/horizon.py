"""The horizon duty: creates the occurrences of recurring posts POSTSCHED_RECURRENCE_HORIZON ahead.

Each round takes the ACTIVE recurring posts whose occurrences are not created that far, evaluates
each rule in its time zone (postsched.recurrence) for the instants after its cursor, and hands them
to the store, which inserts them only if the cursor is still where it was read (any number of
dispatchers may run this side by side: each occurrence is created once).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from postsched import recurrence, timezones
from postsched.clock import Clock
from postsched.store.recurring import RecurringRecord, RecurringStore

log = structlog.get_logger("postsched.dispatcher")

HORIZON_PERIOD = 5.0  # seconds between rounds
ROUND_LIMIT = 500  # recurring posts per round
# Occurrences created per recurring post per round: a long horizon of an hourly rule is filled over
# a few rounds, each transaction short.
MAX_PER_ROUND = 2000
SLACK = timedelta(minutes=10)


class Horizon:
    def __init__(self, store: RecurringStore, clock: Clock, *, horizon: timedelta) -> None:
        self._store = store
        self._clock = clock
        self.horizon = horizon

    async def run_once(self) -> int:
        """One round; returns how many occurrences it created. A recurring post is looked at again
        once its cursor is more than SLACK behind the horizon: each about every SLACK, not every round."""
        until = self._clock.now() + self.horizon
        created = 0
        for record in await self._store.due(until=until - min(SLACK, self.horizon / 4), limit=ROUND_LIMIT):
            created += await self._fill(record, until)
        if created:
            log.info("occurrences created", posts=created)
        return created

    async def _fill(self, record: RecurringRecord, until: datetime) -> int:
        try:
            rule = recurrence.cached(tuple(record.recurrence), record.start_time, record.time_zone)
        except (recurrence.RecurrenceError, timezones.UnknownTimeZone) as exc:
            # Validated when it was written; a tz database without the zone any more is the one way here.
            log.error("recurring post has a rule that no longer reads", recurring_post_id=str(record.id), error=str(exc))
            return 0
        occurrences = rule.between(record.created_through, until)[:MAX_PER_ROUND]
        through = occurrences[-1].instant if len(occurrences) == MAX_PER_ROUND else until
        ended = rule.ended(through)
        created = await self._store.add_occurrences(record, [o.instant for o in occurrences], through=through, ended=ended)
        return created or 0

