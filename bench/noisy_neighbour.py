"""Noisy neighbours: how late a quiet tenant's and small accounts' posts are next to a noisy one.

    python bench/noisy_neighbour.py [--scale 1.0] [--publishers 2]

Two scenarios, each run twice on a suite of its own (bench/harness.py: embedded PostgreSQL and
NATS, fake-meta, one dispatcher, --publishers publishers): once with the noisy load and once
without it, so the quiet posts' lateness can be put side by side.

- tenant: tenant "noisy" has 2,000 posts on one webhook that answers after 5 s and 500 on one
  that answers 429 with Retry-After: 86400; tenant "bench" has 200 posts on 20 Facebook Pages; all
  fall due in the same second, bench's half a second after the noisy tenant's. Measured: bench's posts, from their due time to the platform.
- burst: 20,000 posts of one Facebook Page fall due at once, and one post on each of 100 other
  Pages one second later. Measured: the 100 small accounts' posts.

--scale multiplies every count; --concurrency and --account-concurrency set the publishers' (the
test runs a small version with a small publisher, where holding posts in slots shows at once). Each run counts posts that reached the
platform twice and posts that never did among those measured (and the burst's). Prints one JSON
line; the README's "Multi-tenant limits" section holds its figures.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import grpc
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import TOKEN, add_suite_arguments, control, percentile, print_figures, suite_from  # noqa: E402
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc  # noqa: E402

NOISY_TOKEN = "noisy-bench-token-0123456789abcdefgh"
FAR = timedelta(days=300)


class Client:
    def __init__(self, addr: str, token: str) -> None:
        self.stub = scheduler_pb2_grpc.SchedulerServiceStub(grpc.insecure_channel(addr, options=[
            ("grpc.max_send_message_length", 64 << 20)]))
        self.metadata = (("authorization", f"Bearer {token}"),)

    def page(self, page_id: str) -> str:
        return self.stub.CreateAccount(scheduler_pb2.CreateAccountRequest(
            platform=resources_pb2.FACEBOOK_PAGE, external_id=page_id, access_token="bench-page-token"),
            metadata=self.metadata).account_id

    def webhook(self, name: str, fake_meta: str) -> str:
        return self.stub.CreateAccount(scheduler_pb2.CreateAccountRequest(
            platform=resources_pb2.WEBHOOK, external_id=name, webhook_url=f"{fake_meta}/_webhooks/{name}",
            webhook_secret="n" * 32), metadata=self.metadata).account_id

    def posts(self, account_id: str, texts: list[str]) -> None:
        at = datetime.now(timezone.utc) + FAR
        for start in range(0, len(texts), 1000):
            requests = [scheduler_pb2.CreatePostRequest(account_id=account_id, text=t) for t in texts[start:start + 1000]]
            for request in requests:
                request.scheduled_at.FromDatetime(at)
            self.stub.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests),
                                       metadata=self.metadata, timeout=300)


def lateness(suite: Any, conn: psycopg.Connection, texts: list[str], timeout: float) -> dict[str, Any]:
    """Waits until every post of `texts` is PUBLISHED or FAILED; their lateness on the platform."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (ended,) = conn.execute("SELECT count(*) FROM posts WHERE text = ANY(%s) AND status IN ('PUBLISHED', 'FAILED')",
                                (texts,)).fetchone()
        if ended >= len(texts):
            break
        time.sleep(0.2)
    # Their due time as asked: scheduled_at (a post given back by a publisher keeps it).
    due = {t: at.timestamp() for t, at in conn.execute(
        "SELECT text, scheduled_at FROM posts WHERE text = ANY(%s)", (texts,)).fetchall()}
    wanted = set(texts)
    seen = [p for p in control(suite.fake_meta, "/_control/posts")["posts"] if p["message"] in wanted]
    first: dict[str, float] = {}
    for post in seen:
        first.setdefault(post["message"], post["created_time"])
    late = [(first[t] - due[t]) * 1000 for t in first]
    # Where the time went: each step's last time after the post was due (p99 over the posts).
    steps = {event: round(percentile([float(v) for v in values], 99), 1) for event, values in conn.execute(
        """SELECT l.event, array_agg(extract(epoch FROM l.created_at - p.scheduled_at) * 1000)
           FROM posts p JOIN LATERAL (SELECT event, max(created_at) AS created_at FROM processing_logs
                                      WHERE post_id = p.id GROUP BY event) l ON true
           WHERE p.text = ANY(%s) AND l.event IN ('queued', 'handed_over', 'deferred', 'claimed', 'published')
           GROUP BY l.event""", (texts,)).fetchall()}
    return {"p50_ms": round(percentile(late, 50), 1), "p99_ms": round(percentile(late, 99), 1),
            "max_ms": round(max(late, default=0.0), 1), "published": len(first),
            "duplicates": len(seen) - len(first), "lost": len(texts) - len(first), "steps_p99_ms": steps}


def make_due(conn: psycopg.Connection, texts: list[str], delay: float = 0.0) -> None:
    conn.execute("UPDATE posts SET scheduled_at = clock_timestamp() + make_interval(secs => %s) WHERE text = ANY(%s)",
                 (delay, texts))


def publisher_env(args: argparse.Namespace) -> dict[str, str]:
    env = {}
    if args.concurrency:
        env["POSTSCHED_PUBLISH_CONCURRENCY"] = str(args.concurrency)
    if args.account_concurrency:
        env["POSTSCHED_ACCOUNT_CONCURRENCY"] = str(args.account_concurrency)
    return env


def tenant_scenario(args: argparse.Namespace, noisy: bool) -> dict[str, Any]:
    env = {"POSTSCHED_API_TOKENS": f"bench:{TOKEN},noisy:{NOISY_TOKEN}", **publisher_env(args)}
    with suite_from(args, publishers=args.publishers, env=env) as suite:
        run = uuid.uuid4().hex[:6]
        quiet, loud = Client(suite.addr("scheduler"), TOKEN), Client(suite.addr("scheduler"), NOISY_TOKEN)
        pages = max(2, int(20 * args.scale))
        quiet_texts: list[str] = []
        for p in range(pages):
            texts = [f"quiet {run} {p} {i}" for i in range(10)]
            quiet.posts(quiet.page(f"7{run_number(run)}{p:04d}"), texts)
            quiet_texts += texts
        noisy_texts: list[str] = []
        if noisy:
            for name, count, fault in (
                ("slow", int(2000 * args.scale), {"kind": "latency", "latency_ms": 5000}),
                ("limited", int(500 * args.scale), {"kind": "error", "http_status": 429, "retry_after": 86400}),
            ):
                hook = f"{name}-{run}"
                control(suite.fake_meta, "/_control/faults", {**fault, "account": hook, "endpoint": "webhook", "times": 0})
                texts = [f"noisy {name} {run} {i}" for i in range(count)]
                loud.posts(loud.webhook(hook, suite.fake_meta), texts)
                noisy_texts += texts
        conn = psycopg.connect(suite.database_url, autocommit=True)
        time.sleep(1.0)
        # The same second, the noisy tenant's first: its posts are ahead of the quiet ones in the stream.
        make_due(conn, noisy_texts)
        make_due(conn, quiet_texts, delay=0.5)
        figures = lateness(suite, conn, quiet_texts, timeout=args.timeout)
        figures["noisy_posts"] = len(noisy_texts)
        conn.close()
        return figures


def burst_scenario(args: argparse.Namespace, burst: bool) -> dict[str, Any]:
    with suite_from(args, publishers=args.publishers, env=publisher_env(args)) as suite:
        run = uuid.uuid4().hex[:6]
        client = Client(suite.addr("scheduler"), TOKEN)
        small = max(2, int(100 * args.scale))
        small_texts = [f"small {run} {i}" for i in range(small)]
        for i, text in enumerate(small_texts):
            client.posts(client.page(f"8{run_number(run)}{i:04d}"), [text])
        burst_texts = [f"burst {run} {i}" for i in range(int(20_000 * args.scale))] if burst else []
        if burst:
            client.posts(client.page(f"9{run_number(run)}0000"), burst_texts)
        conn = psycopg.connect(suite.database_url, autocommit=True)
        time.sleep(1.0)
        make_due(conn, burst_texts)
        make_due(conn, small_texts, delay=1.0)
        figures = lateness(suite, conn, small_texts, timeout=args.timeout)
        if burst:
            drained = lateness(suite, conn, burst_texts, timeout=args.timeout)
            figures["burst"] = {"posts": len(burst_texts), "last_ms": drained["max_ms"],
                                "duplicates": drained["duplicates"], "lost": drained["lost"]}
        conn.close()
        return figures


def run_number(run: str) -> str:
    return f"{int(run, 16) % 10**6:06d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(parser)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--only", choices=("tenant", "burst"), help="run one scenario")
    parser.add_argument("--concurrency", type=int, help="POSTSCHED_PUBLISH_CONCURRENCY (default: the product's)")
    parser.add_argument("--account-concurrency", type=int, help="POSTSCHED_ACCOUNT_CONCURRENCY (default: the product's)")
    args = parser.parse_args()
    figures: dict[str, Any] = {"bench": "noisy_neighbour", "scale": args.scale, "publishers": args.publishers,
                               "concurrency": args.concurrency, "account_concurrency": args.account_concurrency}
    if args.only in (None, "tenant"):
        figures["tenant"] = {"quiet_alone": tenant_scenario(args, noisy=False),
                             "quiet_beside_noisy": tenant_scenario(args, noisy=True)}
    if args.only in (None, "burst"):
        figures["burst"] = {"small_alone": burst_scenario(args, burst=False),
                            "small_after_burst": burst_scenario(args, burst=True)}
    print_figures(figures)


if __name__ == "__main__":
    main()
