"""Event throughput, on a suite it starts (scheduler, dispatcher, publisher): how fast the trigger
writes events, WatchEvents streams them, and the publisher delivers them to a webhook.

    python bench/events.py [--count 20000]

Creates --count posts far ahead on a new webhook account, points the tenant's event webhook at a
receiver in this process, then writes a `cancelled` audit entry for every post in batches of 1000
(the trigger turns each into a post.cancelled event; the posts themselves are left alone, so this
measures the event path only). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.server
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import TOKEN, add_suite_arguments, print_figures, suite_from  # noqa: E402
from postsched.embedded import free_port  # noqa: E402
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc  # noqa: E402


def receiver(port: int) -> tuple[http.server.ThreadingHTTPServer, list[float]]:
    arrivals: list[float] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            arrivals.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrivals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(parser)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    with suite_from(args, publishers=1) as suite:
        print_figures(measure(suite.addr("scheduler"), suite.database_url, args.count))


def measure(addr: str, database_url: str, count: int) -> dict[str, object]:
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(grpc.insecure_channel(addr))
    account = stub.CreateAccount(scheduler_pb2.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id=f"bench-events-{uuid.uuid4().hex[:8]}",
        webhook_url="https://hooks.example.com/bench", webhook_secret="b" * 32), metadata=metadata)
    at = datetime.now(timezone.utc) + timedelta(days=300)
    for start in range(0, count, 1000):
        requests = [scheduler_pb2.CreatePostRequest(account_id=account.account_id, text=f"e {i}")
                    for i in range(start, min(start + 1000, count))]
        for r in requests:
            r.scheduled_at.FromDatetime(at)
        stub.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests), metadata=metadata, timeout=120)
    port = free_port()
    server, arrivals = receiver(port)
    stub.SetEventWebhook(scheduler_pb2.SetEventWebhookRequest(url=f"http://127.0.0.1:{port}/e", secret="s" * 32),
                         metadata=metadata)
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant = conn.execute("SELECT tenant_id FROM accounts WHERE id = %s", (account.account_id,)).fetchone()[0]
        before = conn.execute("SELECT coalesce(max(last), 0) FROM event_sequences WHERE tenant_id = %s",
                              (tenant,)).fetchone()[0]
        ids = [r[0] for r in conn.execute("SELECT id FROM posts WHERE account_id = %s", (account.account_id,))]
        started = time.monotonic()
        for i in range(0, len(ids), 1000):
            conn.execute(
                """INSERT INTO processing_logs (post_id, tenant_id, account_id, event, from_status, to_status, message)
                   SELECT unnest(%s::uuid[]), %s, %s, 'cancelled', 'SCHEDULED', 'CANCELLED', 'bench'""",
                (ids[i:i + 1000], tenant, account.account_id),
            )
        written = time.monotonic() - started
    watch_started = time.monotonic()
    seen = 0
    stream = stub.WatchEvents(scheduler_pb2.WatchEventsRequest(after_sequence=before), metadata=metadata)
    for _ in stream:
        seen += 1
        if seen == len(ids):
            break
    stream.cancel()
    watched = time.monotonic() - watch_started
    deadline = time.monotonic() + 600
    while len(arrivals) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    delivered = (arrivals[-1] - started) if arrivals else float("nan")
    stub.SetEventWebhook(scheduler_pb2.SetEventWebhookRequest(url=""), metadata=metadata)
    server.shutdown()
    return {
        "bench": "events", "events": len(ids),
        "trigger_events_per_s": round(len(ids) / written),
        "watch_events_per_s": round(seen / watched),
        "webhook_events_per_s": round(len(arrivals) / delivered) if arrivals else 0,
        "webhook_delivered": len(arrivals),
    }


if __name__ == "__main__":
    main()
