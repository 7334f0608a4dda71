"""Schema migrations (Alembic), applied by `postsched migrate` and by `postsched up`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def sqlalchemy_url(libpq_url: str) -> str:
    """postgresql://u@h:p/db (as every PostgreSQL tool writes it) -> SQLAlchemy's psycopg 3 dialect URL."""
    scheme, sep, rest = libpq_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql:// URL: {scheme}://…")
    return "postgresql+psycopg://" + rest


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["sqlalchemy_url"] = sqlalchemy_url(database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Brings the database at database_url to `revision` (default: the latest)."""
    command.upgrade(alembic_config(database_url), revision)
