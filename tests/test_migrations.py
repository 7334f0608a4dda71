"""Migrations give exactly the schema the models describe, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from postsched.store.migrate import sqlalchemy_url
from postsched.store.migrate import upgrade
from postsched.store.schema import metadata
from tests.infra import Databases


def _diff(url: str) -> list:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()


def test_migrations_match_models(databases: Databases) -> None:
    url = databases.empty()
    upgrade(url)
    assert _diff(url) == []


def test_downgrade_and_upgrade_again(databases: Databases) -> None:
    url = databases.empty()
    upgrade(url)
    upgrade(url)  # idempotent
    from alembic import command

    from postsched.store.migrate import alembic_config

    command.downgrade(alembic_config(url), "base")
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    engine.dispose()
    upgrade(url)
    assert _diff(url) == []
