"""The stack floor: what the pieces one post needs cost on this machine, in the same run.

For one post postsched needs at least: a lease of its row (a batch UPDATE … FOR UPDATE SKIP
LOCKED), a JetStream publish with a Nats-Msg-Id, a pull-consumer fetch and ack, one HTTP call
from an aiohttp client to an aiohttp server, and a batched row update (UPDATE … FROM unnest).
Each piece runs alone here, as fast as it can, and its machine-wide CPU per operation is measured
(servers included: PostgreSQL, NATS and the HTTP server's process). The sum is the floor a post
cannot go below with this stack; ../shared/PERFORMANCE.md has the same pieces.

    python bench/floor.py --database-url postgresql://… --nats-url nats://… [--count 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid

import aiohttp
import nats
import psycopg

from bench.harness import free_port, machine_busy_seconds

BATCH = 500
ROUND = 5000  # JetStream publishes awaited together, as the dispatcher's hand-over does
IN_FLIGHT = 100
HTTP_SERVER = """
import sys
from aiohttp import web
async def handle(request):
    await request.read()
    return web.json_response({"id": "1_2"})
app = web.Application()
app.router.add_post("/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


async def _measure(name: str, count: int, run) -> dict[str, float]:
    busy, start = machine_busy_seconds(), time.perf_counter()
    await run()
    seconds, cpu = time.perf_counter() - start, machine_busy_seconds() - busy
    return {"piece": name, "ops_per_s": round(count / seconds), "cpu_us_per_op": round(cpu / count * 1e6, 1)}


async def postgres_pieces(url: str, count: int) -> list[dict[str, float]]:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    table = f"floor_{uuid.uuid4().hex[:8]}"
    await conn.execute(f"CREATE UNLOGGED TABLE {table} (id uuid PRIMARY KEY, status text, due timestamptz, "
                       "owner text, updated_at timestamptz)")
    await conn.execute(f"INSERT INTO {table} SELECT gen_random_uuid(), 'SCHEDULED', now(), NULL, now() "
                       "FROM generate_series(1, %s)", (count,))
    await conn.execute(f"CREATE INDEX ON {table} (due) WHERE status = 'SCHEDULED'")
    ids: list[uuid.UUID] = []

    async def lease() -> None:
        while True:
            cur = await conn.execute(
                f"""UPDATE {table} t SET status = 'QUEUED', owner = 'floor', updated_at = now()
                    WHERE id IN (SELECT id FROM {table} WHERE status = 'SCHEDULED' AND due <= now()
                                 ORDER BY due LIMIT {BATCH} FOR UPDATE SKIP LOCKED) RETURNING id""")
            rows = await cur.fetchall()
            if not rows:
                return
            ids.extend(row[0] for row in rows)

    async def record() -> None:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            await conn.execute(
                f"""UPDATE {table} t SET status = o.status, updated_at = now()
                    FROM unnest(%s::uuid[], %s::text[]) AS o(id, status) WHERE t.id = o.id""",
                (chunk, ["PUBLISHED"] * len(chunk)))

    results = [await _measure("postgres lease (500 a statement)", count, lease),
               await _measure("postgres batched update (unnest, 500)", count, record)]
    await conn.execute(f"DROP TABLE {table}")
    await conn.close()
    return results


async def jetstream_pieces(url: str, count: int) -> list[dict[str, float]]:
    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=2 * ROUND)  # as the dispatcher publishes
    stream = f"FLOOR_{uuid.uuid4().hex[:8].upper()}"
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    payload = b"x" * 222

    def publisher(with_id: bool):
        async def publish() -> None:
            futures = []
            for i in range(count):
                headers = {"Nats-Msg-Id": f"m{with_id}{i}"} if with_id else None
                futures.append(await js.publish_async(f"{stream}.p", payload, headers=headers))
                if len(futures) >= ROUND:
                    await asyncio.gather(*futures)
                    futures.clear()
            await asyncio.gather(*futures)
        return publish

    sub = await js.pull_subscribe(f"{stream}.>", durable="floor", stream=stream)

    async def consume() -> None:
        seen = 0
        while seen < count:
            for msg in await sub.fetch(256, timeout=5):
                await msg.ack()
                seen += 1
        await nc.flush()

    results = [await _measure("jetstream publish_async with Nats-Msg-Id", count, publisher(True)),
               await _measure("jetstream fetch(256) + ack", count, consume)]
    # Not part of the floor: what the Nats-Msg-Id header itself costs (measured apart, since two
    # earlier measurements here disagreed: 72 and 20 us a message).
    without_id = await _measure("jetstream publish_async without Nats-Msg-Id", count, publisher(False))
    await js.delete_stream(stream)
    await nc.close()
    return results, without_id


async def http_piece(count: int) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", HTTP_SERVER, str(port)])
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            body = b"message=hello&access_token=t"
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer t"}

            async def worker(n: int) -> None:
                for _ in range(n):
                    async with session.post(f"http://127.0.0.1:{port}/v27.0/1/feed", data=body, headers=headers) as r:
                        await r.json()

            async def calls() -> None:
                await asyncio.gather(*(worker(count // IN_FLIGHT) for _ in range(IN_FLIGHT)))

            return await _measure("aiohttp client -> aiohttp server (100 in flight)", count // IN_FLIGHT * IN_FLIGHT, calls)
    finally:
        server.terminate()
        server.wait()


async def measure_floor(database_url: str, nats_url: str, count: int) -> dict[str, object]:
    jetstream, without_id = await jetstream_pieces(nats_url, count)
    pieces = [*await postgres_pieces(database_url, count), *jetstream, await http_piece(count)]
    return {"bench": "floor", "count": count, "pieces": pieces,
            "cpu_us_per_post": round(sum(p["cpu_us_per_op"] for p in pieces), 1), "compare": [without_id]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure_floor(args.database_url, args.nats_url, args.count))))


if __name__ == "__main__":
    main()
