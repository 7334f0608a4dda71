"""Migrations give exactly the schema the models describe, and go down and up again."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import postsched
from postsched.store.migrate import sqlalchemy_url
from postsched.store.migrate import upgrade
from postsched.store.schema import metadata
from postsched_devtools.processes import Databases

MIGRATIONS = Path(postsched.__file__).parent / "migrations"
VERSIONS, SQL = MIGRATIONS / "versions", MIGRATIONS / "sql"


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


def test_0007_gives_published_facebook_posts_their_permalink_and_events_carry_it(databases: Databases) -> None:
    import psycopg

    url = databases.empty()
    upgrade(url, "0006")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (id) VALUES ('t') ON CONFLICT DO NOTHING")
        account = conn.execute(
            """INSERT INTO accounts (id, tenant_id, platform, external_id, credentials, created_at, updated_at)
               VALUES (gen_random_uuid(), 't', 'facebook_page', '42', '\\x00', now(), now()) RETURNING id"""
        ).fetchone()[0]
        for status, platform_id in (("PUBLISHED", "42_7"), ("PUBLISHED", "no-underscore"), ("FAILED", "42_8")):
            conn.execute(
                """INSERT INTO posts (id, tenant_id, account_id, status, text, scheduled_at, platform_post_id,
                                      created_at, updated_at)
                   VALUES (gen_random_uuid(), 't', %s, %s, %s, now(), %s, now(), now())""",
                (account, status, platform_id, platform_id),
            )
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        links = dict(conn.execute("SELECT platform_post_id, permalink FROM posts").fetchall())
        assert links == {"42_7": "https://www.facebook.com/42/posts/7", "no-underscore": None, "42_8": None}
        # The trigger replaced by 0007 puts the post's permalink into its post.published event.
        conn.execute(
            """INSERT INTO processing_logs (post_id, tenant_id, account_id, event, from_status, to_status, attempt,
                                            message, created_at)
               SELECT id, tenant_id, account_id, 'published', 'PUBLISHING', 'PUBLISHED', 1, '', now()
               FROM posts WHERE platform_post_id = '42_7'"""
        )
        data = conn.execute("SELECT data FROM events WHERE type = 'post.published'").fetchone()[0]
        assert data["permalink"] == "https://www.facebook.com/42/posts/7" and data["platform_post_id"] == "42_7"


FUNCTION = re.compile(r"CREATE OR REPLACE FUNCTION (\w+)\(.*?\$\$(.*)\$\$", re.S)


def _bodies() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(SQL.glob("*.sql")):
        match = FUNCTION.search(path.read_text())
        assert match, f"{path.name}: one CREATE OR REPLACE FUNCTION ... $$ ... $$"
        out.append((path.name[:4], match.group(1), match.group(2)))
    return out


def test_every_sql_file_is_a_migrations_and_none_patches_another() -> None:
    migrations = "\n".join(p.read_text() for p in VERSIONS.glob("*.py"))
    for path in SQL.glob("*.sql"):
        assert f'load("{path.name}")' in migrations, f"{path.name} is loaded by no migration"
    assert ".replace(" not in migrations and "spec_from_file_location" not in migrations


def test_at_every_revision_the_database_runs_the_newest_file_of_each_function(databases: Databases) -> None:
    import psycopg
    from alembic import command

    from postsched.store.migrate import alembic_config

    url = databases.empty()
    upgrade(url)
    revisions = sorted({p.name[:4] for p in VERSIONS.glob("0*.py")}, reverse=True)
    bodies = _bodies()
    for revision in revisions:  # head, then one step down at a time
        if revision != revisions[0]:
            command.downgrade(alembic_config(url), revision)
        expected: dict[str, str] = {}
        for rev, name, body in bodies:  # sorted by revision: the newest wins
            if rev <= revision:
                expected[name] = body
        with psycopg.connect(url, autocommit=True) as conn:
            running = dict(conn.execute(
                "SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'postsched\\_%%'").fetchall())
        assert running == expected, f"at revision {revision}"
