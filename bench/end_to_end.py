"""End to end: due post -> platform call -> recorded, with every guarantee on, on a suite it starts.

    python bench/end_to_end.py [--count 20000] [--latency-ms 0] [--publishers 2] [--dispatchers 1]
    python bench/end_to_end.py --steady-rate 125 --duration 60 --latency-ms 20
    python bench/end_to_end.py --source /path/to/older/checkout      # before/after in one sitting

Starts its own suite (bench/harness.py: embedded PostgreSQL and NATS unless --database-url /
--nats-url, fake-meta, 1 scheduler, the dispatchers and publishers asked for), creates the posts
far ahead on --pages Facebook Pages, then makes them due with one UPDATE: all in the same second
(a burst), or spread evenly at --steady-rate posts/s. It waits until every post is PUBLISHED or
FAILED, then reads from fake-meta when each post reached the platform and whether any came twice.

Prints one JSON line: posts/s, lateness percentiles (due -> on the platform), the machine-wide CPU
per post and each process's, peak memory per process, duplicates and posts lost; and, unless
--no-floor, the stack floor measured in the same run (bench/floor.py) and the CPU per post as a
multiple of it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.floor import measure_floor  # noqa: E402
from bench.harness import (  # noqa: E402
    TOKEN, BenchSuite, add_suite_arguments, control, machine_busy_seconds, percentile, print_figures, suite_from,
)
from postsched.store.counters import POST_COUNTS  # noqa: E402
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc  # noqa: E402


def create_posts(addr: str, count: int, pages: int, run: str) -> list[str]:
    """`count` posts far ahead, spread over `pages` new Facebook Page accounts; returns the accounts."""
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(grpc.insecure_channel(addr, options=[
        ("grpc.max_send_message_length", 64 << 20)]))
    accounts = [
        stub.CreateAccount(scheduler_pb2.CreateAccountRequest(
            platform=resources_pb2.FACEBOOK_PAGE, external_id=f"9{int(run, 16) % 10**8:08d}{i:04d}",
            access_token="bench-page-token"), metadata=metadata).account_id
        for i in range(pages)
    ]
    far = datetime.now(timezone.utc) + timedelta(days=300)
    for start in range(0, count, 1000):
        requests = []
        for i in range(start, min(count, start + 1000)):
            request = scheduler_pb2.CreatePostRequest(account_id=accounts[i % pages], text=f"bench {run} {i}")
            request.scheduled_at.FromDatetime(far)
            requests.append(request)
        stub.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests), metadata=metadata, timeout=300)
    return accounts


def start_profilers(suite: BenchSuite, directory: Path) -> list[subprocess.Popen]:
    """py-spy on every postsched service, collapsed stacks to DIRECTORY/<role>.txt (see bench/profile_top.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    return [subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking",
                              "--output", str(directory / f"{role}.txt")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            for role, pid in suite.pids().items() if role not in ("fake-meta", "scheduler")]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    for spy in profilers:
        spy.send_signal(signal.SIGINT)
    for spy in profilers:
        spy.wait(60)


def run(args: argparse.Namespace) -> dict[str, object]:
    suite_env = {"POSTSCHED_LOG_LEVEL": args.log_level}
    with suite_from(args, dispatchers=args.dispatchers, publishers=args.publishers, env=suite_env,
                    pg_stats=args.pg_stats) as suite:
        run_id = uuid.uuid4().hex[:8]
        accounts = create_posts(suite.addr("scheduler"), args.count, args.pages, run_id)
        control(suite.fake_meta, "/_control/settings", {"latency_ms": args.latency_ms})
        conn = psycopg.connect(suite.database_url, autocommit=True)
        time.sleep(1.0)  # let the creation's after-effects (triggers, events relay) settle
        profilers = start_profilers(suite, args.profile) if args.profile else []
        if args.pg_stats:
            suite.statement_stats(reset=True)
        busy, cpu = machine_busy_seconds(), suite.cpu_by_role()
        if args.steady_rate:
            (due_from,) = conn.execute(
                """UPDATE posts SET scheduled_at = clock_timestamp() + interval '5 seconds'
                       + make_interval(secs => split_part(text, ' ', 3)::int / %s::float8)
                   WHERE account_id = ANY(%s) RETURNING clock_timestamp() + interval '5 seconds'""",
                (args.steady_rate, accounts)).fetchone()
        else:
            (due_from,) = conn.execute(
                "UPDATE posts SET scheduled_at = clock_timestamp() WHERE account_id = ANY(%s) RETURNING clock_timestamp()",
                (accounts,)).fetchone()
        # A checkout from before migration 0008 (--source) keeps no deltas.
        counts = POST_COUNTS if conn.execute("SELECT to_regclass('post_count_deltas')").fetchone()[0] else "post_counts"
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            # From the per-account counters the triggers keep: a count(*) over the posts every
            # quarter second would cost PostgreSQL more CPU than some of what is measured.
            (done,) = conn.execute(f"SELECT coalesce(sum(n), 0) FROM {counts} c WHERE account_id = ANY(%s) "
                                   "AND status IN ('PUBLISHED', 'FAILED')", (accounts,)).fetchone()
            if done >= args.count:
                break
            time.sleep(0.25)
        busy, cpu_after = machine_busy_seconds() - busy, suite.cpu_by_role()
        stop_profilers(profilers)
        statements = suite.statement_stats() if args.pg_stats else []
        functions = suite.function_stats() if args.pg_stats else []
        last, published, failed = conn.execute(
            "SELECT max(updated_at), count(*) FILTER (WHERE status = 'PUBLISHED'), "
            "count(*) FILTER (WHERE status = 'FAILED') FROM posts WHERE account_id = ANY(%s)", (accounts,)).fetchone()
        due = {text: at.timestamp() for text, at in conn.execute(
            "SELECT text, scheduled_at FROM posts WHERE account_id = ANY(%s)", (accounts,)).fetchall()}
        on_platform = [p for p in control(suite.fake_meta, "/_control/posts")["posts"] if p["message"] in due]
        first_seen: dict[str, float] = {}
        for post in on_platform:
            first_seen.setdefault(post["message"], post["created_time"])
        lateness = [(first_seen[text] - due[text]) * 1000 for text in first_seen]
        seconds = (last - due_from).total_seconds()
        figures: dict[str, object] = {
            "bench": "end_to_end", "mode": "steady" if args.steady_rate else "burst", "count": args.count,
            "latency_ms": args.latency_ms, "dispatchers": args.dispatchers, "publishers": args.publishers,
            "posts_per_s": round(args.count / seconds, 1), "seconds": round(seconds, 2),
            "last_on_platform_s": round(max(first_seen.values()) - min(due.values()), 2) if first_seen else None,
            "lateness_ms": {"p50": round(percentile(lateness, 50), 1), "p99": round(percentile(lateness, 99), 1),
                            "max": round(max(lateness, default=0.0), 1)},
            "cpu_us_per_post": round(busy / args.count * 1e6, 1),
            "cpu_us_per_post_by_process": {role: round((cpu_after[role] - cpu[role]) / args.count * 1e6, 1)
                                           for role in cpu},
            "peak_rss_mib": suite.peak_rss(),
            "published": published, "failed": failed,
            "duplicates": len(on_platform) - len(first_seen), "lost": args.count - len(first_seen),
        }
        if statements:
            figures["statements"] = statements
            figures["functions"] = functions
            figures["wal_bytes_per_post"] = round(sum(s["wal_bytes"] for s in statements if s["toplevel"]) / args.count)
        conn.close()
        if not args.no_floor:
            suite.pause(True)  # PostgreSQL and NATS alone: the services' idle duties are not the floor's
            try:
                floor = asyncio.run(measure_floor(suite.database_url, suite.nats_url, args.floor_count))
            finally:
                suite.pause(False)
            figures["floor"] = floor
            figures["multiple_of_floor"] = round(figures["cpu_us_per_post"] / floor["cpu_us_per_post"], 2)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=0, help="fake-meta answers after this long")
    parser.add_argument("--steady-rate", type=float, default=0.0, help="posts/s spread evenly (0: all due at once)")
    parser.add_argument("--duration", type=float, default=0.0, help="with --steady-rate: seconds of load (sets --count)")
    parser.add_argument("--dispatchers", type=int, default=1)
    parser.add_argument("--publishers", type=int, default=2)
    add_suite_arguments(parser)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-floor", action="store_true", help="skip the stack floor")
    parser.add_argument("--floor-count", type=int, default=20_000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--pg-stats", action="store_true", help="report PostgreSQL statements (pg_stat_statements)")
    parser.add_argument("--profile", type=Path, help="py-spy the services while posts drain; stacks into this directory")
    args = parser.parse_args()
    if args.steady_rate and args.duration:
        args.count = int(args.steady_rate * args.duration)
    print_figures(run(args))


if __name__ == "__main__":
    main()
