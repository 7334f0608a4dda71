"""The publishing quotas Meta enforces per account (table publishing_quotas, migration 0012).

A row is the quota as last read from Meta (Instagram's content_publishing_limit) or counted from
postsched's own publications (Facebook Page Reels), plus the places reserved by publications under
way. A publish reserves a place first with one conditional UPDATE (used + reserved < total), so
publishers on several machines never send more than the quota allows; a read replaces `used` but
keeps the reservations, which the platform cannot know of yet. A publication that went out moves
its place from reserved to used; one that did not gives it back.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from postsched.store.database import Connection, Database
from postsched.store.records import QuotaRecord

# Reservations older than their hold are forgotten (their publisher died mid-publication).
LIVE_RESERVED = "CASE WHEN reserved_until > %(now)s THEN reserved ELSE 0 END"
COLUMNS = f"account_id, name, used + {LIVE_RESERVED} AS used, total, window_seconds, read_at, frees_at, updated_at"

RESERVE = f"""
UPDATE publishing_quotas SET reserved = {LIVE_RESERVED} + 1, reserved_until = %(hold)s, updated_at = %(now)s
WHERE account_id = %(account)s AND name = %(name)s AND used + {LIVE_RESERVED} < total
RETURNING {COLUMNS}
"""

SETTLE = f"""
UPDATE publishing_quotas SET reserved = greatest({LIVE_RESERVED} - 1, 0), used = used + %(published)s,
    updated_at = %(now)s
WHERE account_id = %(account)s AND name = %(name)s
"""

SAVE = """
INSERT INTO publishing_quotas (account_id, name, used, total, window_seconds, read_at, frees_at, updated_at)
VALUES (%(account)s, %(name)s, %(used)s, %(total)s, %(window)s, %(read_at)s, %(frees_at)s, %(now)s)
ON CONFLICT (account_id, name) DO UPDATE SET used = excluded.used, total = excluded.total,
    window_seconds = excluded.window_seconds, read_at = excluded.read_at, frees_at = excluded.frees_at,
    updated_at = excluded.updated_at
WHERE publishing_quotas.updated_at <= %(now)s
"""

# Facebook Page Reels: no endpoint says how many were published, so they are counted here: those
# published in the window, and those being published whose finish was sent (its outcome may not be
# recorded yet: counted as of now). A reservation covers a Reel only until its finish is sent.
OWN_REELS = """
SELECT coalesce(published_at, %(now)s) AS published_at FROM posts
WHERE account_id = %(account)s AND kind = 'REEL'
  AND ((status = 'PUBLISHING' AND platform_state ? 'finish_sent_at')
       OR (status = 'PUBLISHED' AND published_at > %(since)s))
"""


def _record(row: Mapping[str, Any]) -> QuotaRecord:
    return QuotaRecord(name=row["name"], used=row["used"], total=row["total"],
                       window=timedelta(seconds=row["window_seconds"]), read_at=row["read_at"], frees_at=row["frees_at"])


async def of_accounts(conn: Connection, account_ids: Iterable[uuid.UUID], *, now: datetime
                      ) -> dict[uuid.UUID, tuple[QuotaRecord, ...]]:
    """Every quota known for these accounts (what GetAccount and the dashboard show)."""
    cur = await conn.execute(f"SELECT {COLUMNS} FROM publishing_quotas WHERE account_id = ANY(%(ids)s) ORDER BY name",
                             {"ids": list(account_ids), "now": now})
    found: dict[uuid.UUID, tuple[QuotaRecord, ...]] = {}
    for row in await cur.fetchall():
        found[row["account_id"]] = found.get(row["account_id"], ()) + (_record(row),)
    return found


class QuotaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, account_id: uuid.UUID, name: str, *, now: datetime) -> QuotaRecord | None:
        """The quota with the places reserved now counted as used."""
        async with self._db.connection() as conn:
            cur = await conn.execute(f"SELECT {COLUMNS} FROM publishing_quotas WHERE account_id = %(account)s "
                                     "AND name = %(name)s", {"account": account_id, "name": name, "now": now})
            row = await cur.fetchone()
        return _record(row) if row else None

    async def save(self, account_id: uuid.UUID, quota: QuotaRecord, *, now: datetime) -> None:
        """The quota as read (or counted) from `now` on: replaces what was known, unless a place
        was taken or settled after `now` (that count is newer than the read; the next read wins)."""
        async with self._db.connection() as conn:
            await conn.execute(SAVE, {"account": account_id, "name": quota.name, "used": quota.used,
                                      "total": quota.total, "window": int(quota.window.total_seconds()),
                                      "read_at": quota.read_at, "frees_at": quota.frees_at, "now": now})

    async def reserve(self, account_id: uuid.UUID, name: str, *, now: datetime,
                      hold: timedelta) -> QuotaRecord | None:
        """Takes one place for a publication about to be sent, if one is free, for at most `hold`:
        the quota with it taken; None when the quota is used up."""
        async with self._db.connection() as conn:
            cur = await conn.execute(RESERVE, {"account": account_id, "name": name, "now": now, "hold": now + hold})
            row = await cur.fetchone()
        return _record(row) if row else None

    async def settle(self, account_id: uuid.UUID, name: str, *, published: bool, now: datetime) -> None:
        """A reserved place's publication went out (it is used now) or did not (it is free again)."""
        async with self._db.connection() as conn:
            await conn.execute(SETTLE, {"account": account_id, "name": name, "now": now,
                                        "published": 1 if published else 0})

    async def own_reels(self, account_id: uuid.UUID, *, since: datetime, now: datetime) -> list[datetime]:
        """When this account's Reels published since `since` were published (those being
        published: `now`)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(OWN_REELS, {"account": account_id, "since": since, "now": now})
            return [row["published_at"] for row in await cur.fetchall()]

    async def full_until(self, account_id: uuid.UUID, name: str, frees_at: datetime | None, *, now: datetime) -> None:
        """The quota is used up until `frees_at` (None: unknown): publishers wait without asking."""
        async with self._db.connection() as conn:
            await conn.execute("UPDATE publishing_quotas SET frees_at = %s, updated_at = %s "
                               "WHERE account_id = %s AND name = %s", (frees_at, now, account_id, name))
