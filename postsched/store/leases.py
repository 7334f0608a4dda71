"""The leases a post is held under, and the one way the end of each is computed.

A post out of SCHEDULED always has an owner and a time its hold ends (`lease_expires_at`); when it
ends, a rescuer takes the post back. Which lease, from when, for how long:

| state | held by | from | for | taken back by |
|---|---|---|---|---|
| QUEUED, not handed over | the dispatcher that leased it | its due time, or now if later | POSTSCHED_LEASE_GRACE | dispatcher rescuer |
| QUEUED, handed over | JetStream's message | JetStream's acknowledgement | POSTSCHED_HANDOVER_TIMEOUT | dispatcher rescuer |
| PUBLISHING | the attempt (renewed while it works) | the claim, each renewal, a take-over | POSTSCHED_PUBLISH_LEASE | publisher rescuer |
| QUEUED, retry after a transient error | JetStream's redelivery | the outcome | the retry's delay + POSTSCHED_HANDOVER_TIMEOUT | dispatcher rescuer |

Event relays and event webhook deliveries hold their rows the same way (`ends` below).
"""

from __future__ import annotations

from datetime import datetime, timedelta


def ends(seconds: str, start: str = "%(now)s") -> str:
    """SQL: the end of a lease of `seconds` (an SQL expression) from `start`."""
    return f"{start} + make_interval(secs => {seconds})"


# The SQL of each lease above: `due` is the lease's row of due posts, %(grace)s, %(timeout)s and
# %(lease)s the settings named in the table.
DISPATCH = ends("%(grace)s", "greatest(due.due_at, %(now)s)")
HANDED_OVER = ends("%(timeout)s")
PUBLISHING = ends("%(lease)s")


def retry_ends(now: datetime, delay: float, handover_timeout: float) -> datetime:
    """A post waiting for JetStream to redeliver its message after `delay`."""
    return now + timedelta(seconds=delay + handover_timeout)
