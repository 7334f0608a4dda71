"""The post counters (migrations 0004 and 0008): read them exactly, fold their deltas.

The posts trigger appends each statement's changes to post_count_deltas / post_outcome_deltas
rather than updating the counter rows every writer would share; readers add what is not folded
yet, so a count is exact whether or not the fold has run.
"""

from __future__ import annotations

from postsched.store.database import Connection, Database

FOLD_PERIOD = 1.0  # seconds between folds: the deltas a reader adds stay a few hundred rows

# Posts per (account_id, status): folded counts plus the deltas since.
POST_COUNTS = """(SELECT account_id, status, n FROM post_counts
    UNION ALL SELECT account_id, status, n FROM post_count_deltas)"""

# Published / failed per (minute, account_id), the same way.
POST_OUTCOMES = """(SELECT minute, account_id, published, failed FROM post_outcomes
    UNION ALL SELECT minute, account_id, published, failed FROM post_outcome_deltas)"""


class CounterFolder:
    """Folds the counters' deltas into their rows; any number of services may run one."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def run_once(self) -> int:
        """One fold; returns how many counter rows it changed."""
        async with self._db.connection() as conn:
            cur = await conn.execute("SELECT postsched_fold_counters() AS changed")
            row = await cur.fetchone()
            return int(row["changed"]) if row else 0


async def clear_old_outcomes(conn: Connection) -> None:
    """Drops outcome counters older than any stats window reads (2 hours)."""
    await conn.execute("DELETE FROM post_outcomes WHERE minute < now() - interval '2 hours'")
