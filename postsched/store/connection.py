"""Transactions, with driver errors wrapped at the boundary as domain errors."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postsched.errors import Unavailable


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction; a lost or refused database connection becomes Unavailable (gRPC UNAVAILABLE)."""
    try:
        async with engine.begin() as conn:
            yield conn
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        raise Unavailable("database unavailable; retry") from exc
    except sqlalchemy.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable("database connection lost; retry") from exc
        raise
    except OSError as exc:
        raise Unavailable("database unreachable; retry") from exc
