"""CreatePost and BatchCreatePosts throughput against a running scheduler.

    python bench/create_posts.py --addr localhost:50051 --token dev-token

Prints posts per second for each. Posts are scheduled 300 days ahead so a running dispatcher
leaves them alone; they stay in the database (use a scratch state directory).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", default="localhost:50051")
    parser.add_argument("--token", default="dev-token")
    parser.add_argument("--single", type=int, default=5000, help="CreatePost calls")
    parser.add_argument("--concurrency", type=int, default=64, help="CreatePost calls in flight")
    parser.add_argument("--batches", type=int, default=50, help="BatchCreatePosts calls of --batch-size posts")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    args = parser.parse_args()

    metadata = (("authorization", f"Bearer {args.token}"),)
    async with grpc.aio.insecure_channel(args.addr) as channel:
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
        print(f"CreatePost:       {single:8.0f} posts/s  ({args.single} calls, {args.concurrency} in flight)")

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
        print(f"BatchCreatePosts: {batch:8.0f} posts/s  ({args.batches} x {args.batch_size}, "
              f"{args.batch_concurrency} in flight)")


if __name__ == "__main__":
    asyncio.run(main())
