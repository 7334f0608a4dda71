"""The post counters stay exact: writers append deltas side by side, folds running at the same time
fold each delta once, readers add what is not folded yet, and the migration goes down and up."""

from __future__ import annotations

import asyncio
import random

import psycopg

from postsched.store.counters import POST_COUNTS, POST_OUTCOMES, CounterFolder
from postsched.store.database import Database
from postsched.store.migrate import upgrade
from postsched_devtools.processes import Databases

STATUSES = ("SCHEDULED", "QUEUED", "PUBLISHING", "PUBLISHED", "FAILED")


def _accounts_with_posts(conn: psycopg.Connection, accounts: int, posts: int) -> list:
    conn.execute("INSERT INTO tenants (id) VALUES ('t') ON CONFLICT DO NOTHING")
    ids = [
        conn.execute(
            """INSERT INTO accounts (id, tenant_id, platform, external_id, credentials, created_at, updated_at)
               VALUES (gen_random_uuid(), 't', 'facebook_page', %s, '\\x00', now(), now()) RETURNING id""",
            (str(i),),
        ).fetchone()[0]
        for i in range(accounts)
    ]
    conn.execute(
        """INSERT INTO posts (id, tenant_id, account_id, text, scheduled_at, created_at, updated_at)
           SELECT gen_random_uuid(), 't', (%s::uuid[])[1 + i %% %s], 'p' || i, now(), now(), now()
           FROM generate_series(0, %s - 1) AS i""",
        (ids, accounts, posts),
    )
    return ids


def _true_counts(conn: psycopg.Connection) -> dict:
    return {(a, s): n for a, s, n in conn.execute(
        "SELECT account_id, status::text, count(*) FROM posts GROUP BY 1, 2").fetchall()}


def _read_counts(conn: psycopg.Connection) -> dict:
    return {(a, s): n for a, s, n in conn.execute(
        f"SELECT account_id, status::text, sum(n) FROM {POST_COUNTS} c GROUP BY 1, 2 HAVING sum(n) <> 0").fetchall()}


async def test_counts_stay_exact_with_writers_and_folds_side_by_side(databases: Databases) -> None:
    url = databases.fresh()
    with psycopg.connect(url, autocommit=True) as conn:
        _accounts_with_posts(conn, accounts=5, posts=3000)
    db = await Database(url, max_size=12).open()
    transitions = {"PUBLISHED": 0, "FAILED": 0}

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            target = rng.choice(STATUSES)
            async with db.connection() as conn:  # a batch of posts moved at once, as the services do
                cur = await conn.execute(
                    """UPDATE posts SET status = %s FROM (SELECT id FROM posts WHERE status <> %s
                           ORDER BY random() LIMIT 50 FOR UPDATE SKIP LOCKED) pick
                       WHERE posts.id = pick.id""",
                    (target, target),
                )
                if target in transitions:
                    transitions[target] += cur.rowcount
                # A statement that changes no status appends nothing.
                await conn.execute("UPDATE posts SET updated_at = now() WHERE id IN (SELECT id FROM posts LIMIT 20 FOR UPDATE SKIP LOCKED)")

    stop = asyncio.Event()

    async def folder() -> int:
        folds, folded = CounterFolder(db), 0
        while not stop.is_set():
            folded += await folds.run_once()
            await asyncio.sleep(0.005)
        return folded

    try:
        folders = [asyncio.create_task(folder()) for _ in range(3)]
        await asyncio.gather(*(writer(seed) for seed in range(6)))
        stop.set()
        folded = sum(await asyncio.gather(*folders))
        with psycopg.connect(url, autocommit=True) as conn:
            assert folded > 0
            assert _read_counts(conn) == _true_counts(conn)  # before the last fold: deltas added in
            await CounterFolder(db).run_once()
            assert conn.execute("SELECT count(*) FROM post_count_deltas").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM post_outcome_deltas").fetchone()[0] == 0
            assert _read_counts(conn) == _true_counts(conn)
            published, failed = conn.execute(
                f"SELECT sum(published), sum(failed) FROM {POST_OUTCOMES} o").fetchone()
            assert (published, failed) == (transitions["PUBLISHED"], transitions["FAILED"])
            assert published > 0 and failed > 0
            # Deleted posts leave the counts too.
            conn.execute("DELETE FROM posts WHERE status = 'PUBLISHED'")
            assert _read_counts(conn) == _true_counts(conn)
    finally:
        await db.close()


def test_0008_keeps_the_counts_and_its_downgrade_folds_them(databases: Databases) -> None:
    from alembic import command

    from postsched.store.migrate import alembic_config

    url = databases.empty()
    upgrade(url, "0007")
    with psycopg.connect(url, autocommit=True) as conn:
        _accounts_with_posts(conn, accounts=3, posts=300)
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE posts SET status = 'PUBLISHED' WHERE text LIKE 'p1%'")
        assert conn.execute("SELECT count(*) FROM post_count_deltas").fetchone()[0] > 0
        assert _read_counts(conn) == _true_counts(conn)
    command.downgrade(alembic_config(url), "0007")
    with psycopg.connect(url, autocommit=True) as conn:
        counts = {(a, s): n for a, s, n in conn.execute(
            "SELECT account_id, status::text, n FROM post_counts WHERE n <> 0").fetchall()}
        assert counts == _true_counts(conn)
        conn.execute("UPDATE posts SET status = 'FAILED' WHERE text LIKE 'p2%'")  # 0004's trigger again
        counts = {(a, s): n for a, s, n in conn.execute(
            "SELECT account_id, status::text, n FROM post_counts WHERE n <> 0").fetchall()}
        assert counts == _true_counts(conn)
