"""Alembic environment: run by `postsched migrate` (postsched.store.migrate), never by hand-edited ini files."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from postsched.store.schema import metadata

# Any number id works, as long as every postsched process uses the same one.
MIGRATION_LOCK_ID = 7_201_514


def run_migrations_online() -> None:
    url = context.config.attributes["sqlalchemy_url"]
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        # Several processes may migrate at once (replicas starting together): one at a time.
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
    engine.dispose()


run_migrations_online()
