"""Every write to `dashboard_sessions`: the dashboard's sign-ins (migration 0010 says why the table
holds digests only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from postsched.store.database import Database

# Sessions that ended (expired or signed out) are kept this long, then deleted at the next sign-in.
KEEP_ENDED = timedelta(days=1)


@dataclass(frozen=True)
class SessionRow:
    operator: str
    token_digest: bytes
    expires_at: datetime


class DashboardSessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, id_digest: bytes, operator: str, token_digest: bytes, client: str,
                     now: datetime, expires_at: datetime) -> None:
        async with self._db.connection() as conn:
            await conn.execute("DELETE FROM dashboard_sessions WHERE expires_at < %s OR revoked_at < %s",
                               (now - KEEP_ENDED, now - KEEP_ENDED))
            await conn.execute(
                "INSERT INTO dashboard_sessions (id_digest, operator, token_digest, client, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (id_digest, operator, token_digest, client, now, expires_at),
            )

    async def live(self, id_digest: bytes, now: datetime) -> SessionRow | None:
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT operator, token_digest, expires_at FROM dashboard_sessions "
                "WHERE id_digest = %s AND revoked_at IS NULL AND expires_at > %s",
                (id_digest, now),
            )
            row = await cur.fetchone()
        return None if row is None else SessionRow(row["operator"], bytes(row["token_digest"]), row["expires_at"])

    async def revoke(self, id_digest: bytes, now: datetime) -> None:
        async with self._db.connection() as conn:
            await conn.execute("UPDATE dashboard_sessions SET revoked_at = %s WHERE id_digest = %s AND revoked_at IS NULL",
                               (now, id_digest))
