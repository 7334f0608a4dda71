"""Back at once after PostgreSQL returns: the scheduler as a real process on a PostgreSQL of its
own, under load, while that PostgreSQL stops for a while and starts again."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import grpc
import pytest

from grpc_health.v1 import health_pb2, health_pb2_grpc

from postsched.embedded import EmbeddedNats, EmbeddedPostgres
from postsched.v1 import scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.waiting import until
from tests.conftest import TENANT_TOKENS, service_env
from postsched_devtools.processes import Databases, ServiceProcess

pytestmark = pytest.mark.e2e
OUTAGE_SECONDS = 20.0


def serving(service: ServiceProcess) -> bool:
    with grpc.insecure_channel(service.addr) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    return answer.status == health_pb2.HealthCheckResponse.SERVING


def test_services_are_back_within_seconds_of_postgres_coming_back(tmp_path: Path, secret_key: str) -> None:
    """The scheduler answers again within two seconds; the dispatcher, whose duties cannot run
    while the database is away, says NOT_SERVING meanwhile and SERVING again soon after."""
    pg = EmbeddedPostgres(tmp_path / "pg", durable=False).start()
    nats_server = EmbeddedNats(tmp_path / "nats").start()
    databases = Databases(pg.url())
    databases.create_template()
    url = databases.fresh()
    scheduler = ServiceProcess("scheduler", service_env(url, secret_key), tmp_path).start()
    dispatcher = ServiceProcess("dispatcher", {**service_env(url, secret_key, nats_server.url),
                                               "POSTSCHED_DISPATCH_INTERVAL": "1"}, tmp_path).start()
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    account = client.webhook_account()
    answers: list[tuple[float, bool]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            at = time.monotonic()
            try:
                client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=account.account_id, text="load"))
                answers.append((at, True))
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                answers.append((at, False))
            time.sleep(0.02)

    threads = [threading.Thread(target=load) for _ in range(20)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        pg.stop()
        time.sleep(OUTAGE_SECONDS)
        dispatcher_during = serving(dispatcher)
        pg.start()
        back = time.monotonic()
        dispatcher_after = until(lambda: serving(dispatcher), timeout=15, what="the dispatcher SERVING again")
        # The load runs on long enough after PostgreSQL is back to see how long refusals went on.
        until(lambda: any(ok and at > back + 2.5 for at, ok in list(answers)), timeout=15,
              what="a post created 2.5 s after PostgreSQL came back")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        scheduler.stop()
        dispatcher.stop()
        pg.stop()
        nats_server.stop()
    assert not dispatcher_during, "the dispatcher's duties could not run, yet it said SERVING"
    assert dispatcher_after, "the dispatcher did not say SERVING again after the database came back"
    failed_after = [at - back for at, ok in answers if not ok and at > back]
    succeeded_after = [at - back for at, ok in answers if ok and at > back]
    gap = max(failed_after, default=0.0)
    assert any(not ok for _, ok in answers), "the outage should have been noticed"
    assert succeeded_after and min(succeeded_after) < 2.0
    assert gap < 2.0, f"UNAVAILABLE for {gap:.1f}s after PostgreSQL was back"
    for service in (scheduler, dispatcher):
        records = [json.loads(line) for line in service.log().splitlines()]  # every line is JSON
        assert any(r.get("logger", "").startswith("psycopg") for r in records), "the driver's warnings belong in the log"
