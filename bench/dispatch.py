"""Dispatcher benchmark, on a scheduler and dispatcher it starts (no publisher): throughput and
hand-over lateness, as one JSON line.

    python bench/dispatch.py [--count 50000] [--spread 120 --spread-count 6000]

throughput: creates --count posts far in the future (BatchCreatePosts), then makes them all due at
once with one UPDATE; the dispatcher is told by NOTIFY, leases them in batches and hands them to
JetStream. Prints posts/s from that UPDATE to the last recorded hand-over.

lateness: creates --spread-count posts spread evenly over the next --spread seconds, waits, and
prints percentiles of (handed_over_at - scheduled_at) with the dispatcher's own tick (60 s default).

No publisher runs, so every post's hand-over is recorded (a publisher claiming a post first makes
the record moot, and it is skipped).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import psycopg
from google.protobuf.timestamp_pb2 import Timestamp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import TOKEN, add_suite_arguments, percentile, print_figures, suite_from  # noqa: E402
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc  # noqa: E402


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def create(stub, metadata, account_id: str, times: list[datetime]) -> list[str]:  # type: ignore[no-untyped-def]
    ids: list[str] = []
    for start in range(0, len(times), 1000):
        requests = [
            scheduler_pb2.CreatePostRequest(account_id=account_id, text=f"bench {i}", scheduled_at=ts(at))
            for i, at in enumerate(times[start:start + 1000], start)
        ]
        reply = stub.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests), metadata=metadata,
                                      timeout=120)
        ids += [p.post_id for p in reply.posts]
    return ids


def wait_handed_over(conn: psycopg.Connection, account_id: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (done,) = conn.execute(
            "SELECT count(*) FROM posts WHERE account_id = %s AND handed_over_at IS NOT NULL", (account_id,)
        ).fetchone()
        if done >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"only {done} of {count} posts handed over within {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(parser)
    parser.add_argument("--count", type=int, default=50_000, help="posts for the throughput run (0 skips it)")
    parser.add_argument("--spread", type=float, default=120.0, help="seconds over which lateness posts fall due")
    parser.add_argument("--spread-count", type=int, default=6_000, help="posts for the lateness run (0 skips it)")
    args = parser.parse_args()
    with suite_from(args, publishers=0) as suite:
        print_figures(measure(suite.addr("scheduler"), suite.database_url, args))


def measure(addr: str, database_url: str, args: argparse.Namespace) -> dict[str, object]:
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(grpc.insecure_channel(addr))
    conn = psycopg.connect(database_url, autocommit=True)
    figures: dict[str, object] = {"bench": "dispatch"}

    def account() -> str:
        return stub.CreateAccount(
            scheduler_pb2.CreateAccountRequest(platform=resources_pb2.WEBHOOK, external_id=f"bench-{uuid.uuid4().hex[:8]}",
                                               webhook_url="https://hooks.example.com/b", webhook_secret="b" * 32),
            metadata=metadata,
        ).account_id

    if args.count:
        account_id = account()
        far = datetime.now(timezone.utc) + timedelta(days=300)
        create(stub, metadata, account_id, [far] * args.count)
        started = conn.execute(
            "UPDATE posts SET scheduled_at = clock_timestamp() WHERE account_id = %s RETURNING clock_timestamp()",
            (account_id,),
        ).fetchone()[0]
        wait_handed_over(conn, account_id, args.count, timeout=600)
        (last,) = conn.execute("SELECT max(handed_over_at) FROM posts WHERE account_id = %s", (account_id,)).fetchone()
        seconds = (last - started).total_seconds()
        figures["burst"] = {"count": args.count, "posts_per_s": round(args.count / seconds, 1), "seconds": round(seconds, 2)}

    if args.spread_count:
        account_id = account()
        start = datetime.now(timezone.utc) + timedelta(seconds=5)
        step = args.spread / args.spread_count
        create(stub, metadata, account_id, [start + timedelta(seconds=i * step) for i in range(args.spread_count)])
        time.sleep(max(0.0, (start - datetime.now(timezone.utc)).total_seconds()) + args.spread)
        wait_handed_over(conn, account_id, args.spread_count, timeout=120)
        lateness = [
            row[0] for row in conn.execute(
                "SELECT extract(epoch FROM handed_over_at - scheduled_at)::float8 FROM posts WHERE account_id = %s",
                (account_id,),
            )
        ]
        ms = [v * 1000 for v in lateness]
        figures["spread"] = {"count": args.spread_count, "seconds": args.spread, "lateness_ms": {
            "p50": round(percentile(ms, 50), 1), "p99": round(percentile(ms, 99), 1), "max": round(max(ms), 1),
            "min": round(min(ms), 1), "mean": round(statistics.fmean(ms), 1)}}
    conn.close()
    return figures


if __name__ == "__main__":
    main()
