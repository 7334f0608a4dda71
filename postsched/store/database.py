"""The connection pool and transactions: psycopg 3 async, with driver errors wrapped at the boundary.

The store speaks SQL to psycopg directly. SQLAlchemy describes the schema (schema.py) and drives
Alembic migrations, but is not on the request path: measured here, one CreatePost through
SQLAlchemy's async engine cost 6.2 ms of CPU against 0.9 ms through psycopg directly.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

import psycopg
import structlog
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from postsched.errors import Unavailable

Connection = psycopg.AsyncConnection[dict[str, Any]]
Listen = Callable[[str, Callable[[], None]], AsyncIterator[str]]

log = structlog.get_logger("postsched.database")

# psycopg_pool reconnects with an exponential backoff (1 s, 2 s, 4 s, ... for up to 5 minutes), so
# after an outage of a minute it waited up to half a minute more before noticing PostgreSQL was
# back (measured: 10 s of UNAVAILABLE after a 40 s outage). postsched retries a lost connection
# every half second instead: one cheap connection attempt per missing pooled connection, and
# service resumes within a second of the database's return (tests/e2e/test_database_restart_e2e.py).
AttemptWithBackoff.INITIAL_DELAY = 0.5
AttemptWithBackoff.DELAY_BACKOFF = 1.0


class Database:
    """A pool of connections to POSTSCHED_DATABASE_URL (a plain libpq URL)."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20, timeout: float = 10.0) -> None:
        self._url = url
        self._checking: asyncio.Task[None] | None = None
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            # Every time is timestamptz in UTC; the session agrees so nothing shifts.
            kwargs={"row_factory": dict_row, "options": "-c timezone=UTC", "autocommit": True},
        )

    async def open(self, wait: bool = True) -> "Database":
        try:
            await self._pool.open(wait=wait, timeout=self._pool.timeout)
        except PoolTimeout as exc:
            raise Unavailable("database unreachable: no connection within the timeout") from exc
        return self

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection in autocommit mode: each statement is its own transaction, no BEGIN/COMMIT
        round trips. Use it for single statements; a lost or refused connection becomes Unavailable.
        """
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._check_soon()
            raise Unavailable("database unavailable; retry") from exc

    def _check_soon(self) -> None:
        """After a lost connection, tests every idle one in the background and drops the dead, so
        the next calls after a PostgreSQL restart do not each meet a dead connection first."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(self._pool.check())

    async def listen(self, channel: str, connected: Callable[[], None]) -> AsyncIterator[str]:
        """The payloads NOTIFY'd on `channel`, forever, on a connection of its own (a pooled one
        would be lent to others between notifications). A lost connection is logged and made
        again a second later; `connected` runs after every (re)connect, since what was said while
        nobody listened is lost."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {channel}")
                    connected()
                    async for notify in conn.notifies():
                        yield notify.payload
            except psycopg.OperationalError as exc:
                log.warning("LISTEN connection lost; reconnecting", channel=channel, error=str(exc))
                await asyncio.sleep(1.0)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One transaction over several statements."""
        async with self.connection() as conn:
            async with conn.transaction():
                yield conn
