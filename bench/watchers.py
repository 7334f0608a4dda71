"""What WatchEvents streams cost: one stream against many, idle and with events flowing.

    python bench/watchers.py [--streams 1,100] [--seconds 20] [--events-per-s 5]

Starts a suite (scheduler only: bench/harness.py), then for each stream count opens that many
WatchEvents streams of one tenant, lets them settle, and for --seconds writes --events-per-s
post.cancelled events (audit entries, as bench/events.py does) while measuring the scheduler's and
PostgreSQL's CPU and PostgreSQL's committed transactions. Each stream must see every event.
Prints one JSON line with the figures per stream count.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path

import grpc
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import TOKEN, add_suite_arguments, print_figures, suite_from  # noqa: E402
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc  # noqa: E402

METADATA = (("authorization", f"Bearer {TOKEN}"),)


def commits(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def measure(suite, streams: int, seconds: float, rate: float) -> dict[str, object]:  # type: ignore[no-untyped-def]
    stub = scheduler_pb2_grpc.SchedulerServiceStub(grpc.insecure_channel(suite.addr("scheduler")))
    account = stub.CreateAccount(scheduler_pb2.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id=f"watch-{uuid.uuid4().hex[:8]}",
        webhook_url="https://hooks.example.com/w", webhook_secret="w" * 32), metadata=METADATA)
    conn = psycopg.connect(suite.database_url, autocommit=True)
    tenant = conn.execute("SELECT tenant_id FROM accounts WHERE id = %s", (account.account_id,)).fetchone()[0]
    start = conn.execute("SELECT coalesce(max(last), 0) FROM event_sequences WHERE tenant_id = %s", (tenant,)).fetchone()[0]
    seen = [0] * streams
    calls = [stub.WatchEvents(scheduler_pb2.WatchEventsRequest(after_sequence=start), metadata=METADATA)
             for _ in range(streams)]

    def read(i: int) -> None:
        try:
            for _ in calls[i]:
                seen[i] += 1
        except grpc.RpcError:
            pass  # cancelled at the end

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(streams)]
    for reader in readers:
        reader.start()
    time.sleep(3.0)  # streams open and idle
    cpu, xacts, started = suite.cpu_by_role(), commits(conn), time.monotonic()
    written = 0
    while time.monotonic() - started < seconds:
        conn.execute(
            """INSERT INTO processing_logs (post_id, tenant_id, account_id, event, from_status, to_status, message)
               VALUES (gen_random_uuid(), %s, %s, 'cancelled', 'SCHEDULED', 'CANCELLED', 'bench')""",
            (tenant, account.account_id))
        written += 1
        time.sleep(1 / rate)
    elapsed = time.monotonic() - started
    cpu_after, xacts_after = suite.cpu_by_role(), commits(conn)
    deadline = time.monotonic() + 30
    while min(seen) < written and time.monotonic() < deadline:
        time.sleep(0.1)
    for call in calls:
        call.cancel()
    conn.close()
    return {
        "streams": streams, "seconds": round(elapsed, 1), "events": written,
        "every_stream_saw_every_event": min(seen) == written,
        "scheduler_cpu_ms_per_s": round((cpu_after["scheduler"] - cpu["scheduler"]) / elapsed * 1000, 1),
        "postgres_cpu_ms_per_s": round((cpu_after["postgres"] - cpu["postgres"]) / elapsed * 1000, 1),
        # Our own INSERTs are one transaction each; the rest is the streams' reading.
        "postgres_transactions_per_s": round((xacts_after - xacts - written) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(parser)
    parser.add_argument("--streams", default="1,100")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--events-per-s", type=float, default=5.0)
    args = parser.parse_args()
    limits = '{"default": {"requests_per_second": 1000000, "request_burst": 1000000, "watch_streams": 10000}}'
    with suite_from(args, dispatchers=0, publishers=0, env={"POSTSCHED_TENANT_LIMITS": limits}) as suite:
        runs = [measure(suite, int(n), args.seconds, args.events_per_s) for n in args.streams.split(",")]
    print_figures({"bench": "watchers", "events_per_s": args.events_per_s, "runs": runs})


if __name__ == "__main__":
    main()
