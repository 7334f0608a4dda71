"""End-to-end benchmark against a running suite (`postsched up`, which publishes to its fake-meta):
posts per second from "due" to PUBLISHED, with every guarantee on, and the memory of each process.

    python bench/end_to_end.py --database-url postgresql://postgres@127.0.0.1:PORT/postsched \
        --fake-meta http://127.0.0.1:PORT [--latency-ms 100]

Creates --count posts on --pages Facebook Page accounts far in the future, makes them all due with
one UPDATE (the dispatcher hears it through NOTIFY), and waits until every post is PUBLISHED or
FAILED. fake-meta answers after --latency-ms. Then checks fake-meta holds each post exactly once.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import psycopg

from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc


def control(base: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def peak_memory() -> dict[str, float]:
    """Peak resident memory (MiB) of each postsched process on this machine, by role."""
    out: dict[str, float] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
            status = (cmdline.parent / "status").read_text()
        except OSError:
            continue
        text = b" ".join(args).decode(errors="replace")
        if "postsched.cli" not in text or (" serve " not in text and "fake-meta" not in text):
            continue
        role = "fake-meta" if "fake-meta" in text else text.split(" serve ")[1].split()[0]
        hwm = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
        mib = int(hwm.split()[1]) / 1024
        key, n = role, 2
        while key in out:
            key, n = f"{role}#{n}", n + 1
        out[key] = mib
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--fake-meta", required=True, help="fake-meta base URL, e.g. http://127.0.0.1:8089")
    parser.add_argument("--scheduler", default="localhost:50051")
    parser.add_argument("--token", default="dev-token")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()

    metadata = (("authorization", f"Bearer {args.token}"),)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(grpc.insecure_channel(args.scheduler))
    run = uuid.uuid4().hex[:8]
    pages = [
        stub.CreateAccount(scheduler_pb2.CreateAccountRequest(
            platform=resources_pb2.FACEBOOK_PAGE, external_id=str(9_000_000_000 + i + int(run[:6], 16) * 1000),
            access_token="bench-token"), metadata=metadata).account_id
        for i in range(args.pages)
    ]
    far = datetime.now(timezone.utc) + timedelta(days=300)
    for start in range(0, args.count, 1000):
        requests = []
        for i in range(start, min(args.count, start + 1000)):
            request = scheduler_pb2.CreatePostRequest(account_id=pages[i % len(pages)], text=f"bench {run} {i}")
            request.scheduled_at.FromDatetime(far)
            requests.append(request)
        stub.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests), metadata=metadata, timeout=120)

    control(args.fake_meta, "/_control/settings", {"latency_ms": args.latency_ms})
    conn = psycopg.connect(args.database_url, autocommit=True)
    (started,) = conn.execute(
        "UPDATE posts SET scheduled_at = clock_timestamp() WHERE account_id = ANY(%s) RETURNING clock_timestamp()",
        (pages,),
    ).fetchone()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        (done,) = conn.execute(
            "SELECT count(*) FROM posts WHERE account_id = ANY(%s) AND status IN ('PUBLISHED', 'FAILED')", (pages,)
        ).fetchone()
        if done >= args.count:
            break
        time.sleep(0.25)
    (last, published, failed) = conn.execute(
        "SELECT max(updated_at), count(*) FILTER (WHERE status = 'PUBLISHED'), count(*) FILTER (WHERE status = 'FAILED') "
        "FROM posts WHERE account_id = ANY(%s)", (pages,)).fetchone()
    seconds = (last - started).total_seconds()
    messages = [p["message"] for p in control(args.fake_meta, "/_control/posts")["posts"] if p["message"].startswith(f"bench {run} ")]
    print(f"end to end, fake-meta latency {args.latency_ms} ms: {args.count / seconds:8.0f} posts/s "
          f"({args.count} posts due at once, {seconds:.2f} s; published {published}, failed {failed})")
    print(f"  on the platform: {len(messages)} posts, {len(messages) - len(set(messages))} duplicates")
    print("  peak memory: " + ", ".join(f"{role} {mib:.0f} MiB" for role, mib in sorted(peak_memory().items())))


if __name__ == "__main__":
    main()
