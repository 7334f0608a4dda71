"""Events past retention are cleared, except those a tenant's webhook has yet to deliver."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

from postsched.store.admin import AdminStore
from postsched.store.database import Database
from postsched_devtools.processes import Databases


async def test_old_events_go_undelivered_ones_stay(databases: Databases) -> None:
    url = databases.fresh()
    old = datetime.now(timezone.utc) - timedelta(days=40)
    with psycopg.connect(url, autocommit=True) as conn:
        for tenant in ("acme", "globex"):
            conn.execute(
                """INSERT INTO processing_logs (tenant_id, event, to_status, message, created_at)
                   SELECT %s, 'needs_credentials', NULL, 'x', %s FROM generate_series(1, 5)""",
                (tenant, old),
            )
        conn.execute("""INSERT INTO event_webhooks (tenant_id, url, secret, delivered, created_at, updated_at)
                        VALUES ('acme', 'https://e.com', '', 2, now(), now())""")
        conn.execute("INSERT INTO processing_logs (tenant_id, event, message) VALUES ('globex', 'needs_credentials', 'new')")
    db = await Database(url).open()
    try:
        deleted = await AdminStore(db).clear_events(datetime.now(timezone.utc) - timedelta(days=30))
    finally:
        await db.close()
    assert deleted == 2 + 5
    with psycopg.connect(url, autocommit=True) as conn:
        left = conn.execute("SELECT tenant_id, sequence FROM events ORDER BY 1, 2").fetchall()
    assert left == [("acme", 3), ("acme", 4), ("acme", 5), ("globex", 6)]
