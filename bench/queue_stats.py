"""GetQueueStats latency at a million posts, on a scheduler and admin service it starts.

    python bench/queue_stats.py [--posts 1000000]

Adds --posts posts straight into PostgreSQL (spread over --accounts accounts of the bench tenant,
mostly PUBLISHED, some FAILED, CANCELLED and far-future SCHEDULED, plus a paused account with
overdue posts), then times --calls GetQueueStats calls for all tenants, one tenant and one account.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import grpc
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ADMIN_TOKEN, add_suite_arguments, percentile, print_figures, suite_from  # noqa: E402
from postsched.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402

FILL = """
INSERT INTO posts (id, tenant_id, account_id, status, text, scheduled_at, published_at, created_at, updated_at)
SELECT gen_random_uuid(), %(tenant)s, (%(accounts)s::uuid[])[1 + i %% %(n_accounts)s],
       (CASE WHEN i %% 100 < 90 THEN 'PUBLISHED' WHEN i %% 100 < 95 THEN 'FAILED'
             WHEN i %% 100 < 98 THEN 'CANCELLED' ELSE 'SCHEDULED' END)::post_status,
       'bench ' || i,
       CASE WHEN i %% 100 < 98 THEN now() - make_interval(secs => i %% 86400) ELSE now() + interval '300 days' END,
       CASE WHEN i %% 100 < 90 THEN now() - make_interval(secs => i %% 86400) END,
       now(), now()
FROM generate_series(%(start)s::int, %(stop)s::int) AS i
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(parser)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with suite_from(args, dispatchers=0, publishers=0, admin=True) as suite:
        print_figures(measure(suite.addr("admin"), suite.database_url, args))


def measure(addr: str, database_url: str, args: argparse.Namespace) -> dict[str, object]:
    tenant = "bench"
    conn = psycopg.connect(database_url, autocommit=True)
    accounts = [uuid.uuid4() for _ in range(args.accounts)]
    with conn.transaction():
        for i, account in enumerate(accounts):
            conn.execute(
                "INSERT INTO accounts (id, tenant_id, platform, external_id, credentials, paused, created_at, updated_at) "
                "VALUES (%s, %s, 'webhook', %s, '\\x00', %s, now(), now())",
                (account, tenant, f"bench-{account}", i == 0),
            )
    started = time.perf_counter()
    for start in range(0, args.posts, 100_000):
        conn.execute(FILL, {"tenant": tenant, "accounts": accounts, "n_accounts": len(accounts),
                            "start": start, "stop": min(args.posts, start + 100_000) - 1})
    conn.execute(  # overdue, held back by the paused account
        "INSERT INTO posts (id, tenant_id, account_id, text, scheduled_at, created_at, updated_at) "
        "SELECT gen_random_uuid(), %s, %s, 'overdue', now() - interval '1 hour', now(), now() FROM generate_series(1, 5)",
        (tenant, accounts[0]))
    conn.execute("VACUUM ANALYZE posts")
    (total,) = conn.execute("SELECT count(*) FROM posts").fetchone()
    conn.close()
    figures: dict[str, object] = {"bench": "queue_stats", "posts": total,
                                  "fill_seconds": round(time.perf_counter() - started, 1), "calls": args.calls}

    stub = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(addr))
    metadata = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
    for label, request in (
        ("all_tenants", admin_pb2.GetQueueStatsRequest()),
        ("one_tenant", admin_pb2.GetQueueStatsRequest(tenant_id=tenant)),
        ("one_account", admin_pb2.GetQueueStatsRequest(account_id=str(accounts[1]))),
    ):
        stub.GetQueueStats(request, metadata=metadata)  # warm up
        times = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            stats = stub.GetQueueStats(request, metadata=metadata)
            times.append((time.perf_counter() - t0) * 1000)
        figures[label] = {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(percentile(times, 99), 2),
                          "max_ms": round(max(times), 2), "published": stats.published,
                          "oldest_overdue_s": round(stats.oldest_overdue_seconds)}
    return figures


if __name__ == "__main__":
    main()
