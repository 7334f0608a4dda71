"""Connecting: a plain libpq URL in, an SQLAlchemy engine on psycopg 3 out."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(libpq_url: str) -> str:
    """postgresql://u@h:p/db (as every PostgreSQL tool writes it) -> the psycopg 3 dialect URL."""
    scheme, sep, rest = libpq_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"not a postgresql:// URL: {scheme}://…")
    return "postgresql+psycopg://" + rest


def create_engine(libpq_url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(libpq_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # Every time is timestamptz in UTC; make the session agree so nothing shifts.
        connect_args={"options": "-c timezone=UTC"},
    )
