"""CreatePost and BatchCreatePosts throughput, on a scheduler it starts (bench/harness.py).

    python bench/create_posts.py [--single 5000] [--batches 50]

Prints posts per second for each as one JSON line. Posts are scheduled 300 days ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import TOKEN, add_suite_arguments, print_figures, suite_from  # noqa: E402
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(parser)
    parser.add_argument("--single", type=int, default=5000, help="CreatePost calls")
    parser.add_argument("--concurrency", type=int, default=64, help="CreatePost calls in flight")
    parser.add_argument("--batches", type=int, default=50, help="BatchCreatePosts calls of --batch-size posts")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    args = parser.parse_args()
    with suite_from(args, dispatchers=0, publishers=0) as suite:
        print_figures(asyncio.run(measure(suite.addr("scheduler"), args)))


async def measure(addr: str, args: argparse.Namespace) -> dict[str, object]:
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = scheduler_pb2_grpc.SchedulerServiceStub(channel)
        account = await stub.CreateAccount(
            scheduler_pb2.CreateAccountRequest(
                platform=resources_pb2.WEBHOOK, external_id=f"bench-{uuid.uuid4().hex[:8]}",
                webhook_url="https://hooks.example.com/bench", webhook_secret="b" * 32,
            ),
            metadata=metadata,
        )
        at = Timestamp()
        at.FromDatetime(datetime.now(timezone.utc) + timedelta(days=300))

        def request(i: int, key: bool) -> scheduler_pb2.CreatePostRequest:
            return scheduler_pb2.CreatePostRequest(
                account_id=account.account_id, text=f"benchmark post {i}", scheduled_at=at,
                idempotency_key=f"bench-{uuid.uuid4().hex}" if key else "",
            )

        # CreatePost, each with an idempotency key (the realistic case: clients retry).
        queue = iter(range(args.single))

        async def worker() -> None:
            for i in queue:
                await stub.CreatePost(request(i, key=True), metadata=metadata)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        single = args.single / (time.perf_counter() - start)

        batches = [
            scheduler_pb2.BatchCreatePostsRequest(requests=[request(i, key=False) for i in range(args.batch_size)])
            for _ in range(args.batches)
        ]
        pending = iter(batches)

        async def batch_worker() -> None:
            for batch in pending:
                await stub.BatchCreatePosts(batch, metadata=metadata, timeout=120)

        start = time.perf_counter()
        await asyncio.gather(*(batch_worker() for _ in range(args.batch_concurrency)))
        total = args.batches * args.batch_size
        batch = total / (time.perf_counter() - start)
        return {"bench": "create_posts",
                "create_post": {"posts_per_s": round(single, 1), "calls": args.single, "in_flight": args.concurrency},
                "batch_create_posts": {"posts_per_s": round(batch, 1), "batches": args.batches,
                                       "batch_size": args.batch_size, "in_flight": args.batch_concurrency}}


if __name__ == "__main__":
    main()
