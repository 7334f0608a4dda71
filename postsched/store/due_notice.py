"""NOTIFY postsched_due: tells dispatchers that posts may be due now (see migration 0002).

The trigger covers changes to posts; this is for changes to accounts that free their posts
(resumed, new credentials), which the trigger does not see.
"""

from __future__ import annotations

from datetime import datetime

from postsched.store.database import Connection


async def announce_due(conn: Connection, at: datetime) -> None:
    await conn.execute("SELECT pg_notify('postsched_due', extract(epoch FROM %s::timestamptz)::text)", (at,))
