"""GetQueueStats latency at a million posts, against a running suite (`postsched up`).

    python bench/queue_stats.py --database-url postgresql://postgres@127.0.0.1:PORT/postsched

Adds --posts posts straight into PostgreSQL (spread over --accounts accounts of the demo tenant,
mostly PUBLISHED, some FAILED, CANCELLED and far-future SCHEDULED, plus a paused account with
overdue posts), then times --calls GetQueueStats calls for all tenants, one tenant and one account.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import grpc
import psycopg

from postsched.v1 import admin_pb2, admin_pb2_grpc

FILL = """
INSERT INTO posts (id, tenant_id, account_id, status, text, scheduled_at, published_at, created_at, updated_at)
SELECT gen_random_uuid(), %(tenant)s, (%(accounts)s::uuid[])[1 + i %% %(n_accounts)s],
       (CASE WHEN i %% 100 < 90 THEN 'PUBLISHED' WHEN i %% 100 < 95 THEN 'FAILED'
             WHEN i %% 100 < 98 THEN 'CANCELLED' ELSE 'SCHEDULED' END)::post_status,
       'bench ' || i,
       CASE WHEN i %% 100 < 98 THEN now() - make_interval(secs => i %% 86400) ELSE now() + interval '300 days' END,
       CASE WHEN i %% 100 < 90 THEN now() - make_interval(secs => i %% 86400) END,
       now(), now()
FROM generate_series(%(start)s, %(stop)s) AS i
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--admin", default="localhost:50054")
    parser.add_argument("--token", default="dev-admin-token")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    conn = psycopg.connect(args.database_url, autocommit=True)
    accounts = [uuid.uuid4() for _ in range(args.accounts)]
    with conn.transaction():
        for i, account in enumerate(accounts):
            conn.execute(
                "INSERT INTO accounts (id, tenant_id, platform, external_id, credentials, paused, created_at, updated_at) "
                "VALUES (%s, %s, 'webhook', %s, '\\x00', %s, now(), now())",
                (account, args.tenant, f"bench-{account}", i == 0),
            )
    started = time.perf_counter()
    for start in range(0, args.posts, 100_000):
        conn.execute(FILL, {"tenant": args.tenant, "accounts": accounts, "n_accounts": len(accounts),
                            "start": start, "stop": min(args.posts, start + 100_000) - 1})
    conn.execute(  # overdue, held back by the paused account
        "INSERT INTO posts (id, tenant_id, account_id, text, scheduled_at, created_at, updated_at) "
        "SELECT gen_random_uuid(), %s, %s, 'overdue', now() - interval '1 hour', now(), now() FROM generate_series(1, 5)",
        (args.tenant, accounts[0]))
    conn.execute("VACUUM ANALYZE posts")
    (total,) = conn.execute("SELECT count(*) FROM posts").fetchone()
    print(f"filled {args.posts} posts in {time.perf_counter() - started:.1f} s; the table holds {total}")

    stub = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(args.admin))
    metadata = (("authorization", f"Bearer {args.token}"),)
    for label, request in (
        ("all tenants", admin_pb2.GetQueueStatsRequest()),
        (f"tenant {args.tenant}", admin_pb2.GetQueueStatsRequest(tenant_id=args.tenant)),
        ("one account", admin_pb2.GetQueueStatsRequest(account_id=str(accounts[1]))),
    ):
        stub.GetQueueStats(request, metadata=metadata)  # warm up
        times = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            stats = stub.GetQueueStats(request, metadata=metadata)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"GetQueueStats ({label}): p50 {statistics.median(times):.1f} ms, "
              f"p99 {times[int(0.99 * len(times)) - 1]:.1f} ms, max {times[-1]:.1f} ms "
              f"(published {stats.published}, oldest overdue {stats.oldest_overdue_seconds:.0f} s)")


if __name__ == "__main__":
    main()
