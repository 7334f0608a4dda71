"""`postsched serve admin`: the admin service as its own process."""

from __future__ import annotations


import structlog

from postsched import broker
from postsched.auth import TokenBook
from postsched.clock import Clock
from postsched.duties import Supervisor
from postsched.heartbeat import Replicas
from postsched.paging import PageTokens
from postsched.grpc_server import start_server, wait_for_shutdown_signal
from postsched.settings import AdminSettings
from postsched.store.admin import AdminStore
from postsched.store.counters import FOLD_PERIOD, CounterFolder
from postsched.store.dashboard import DashboardStore
from postsched.store.dashboard_sessions import DashboardSessionStore
from postsched.store.database import Database
from postsched.errors import ConfigError
from postsched.v1 import admin_pb2, admin_pb2_grpc
from services.admin.cleanup import RetentionCleaner
from services.admin.dashboard import Dashboard
from services.admin.servicer import AdminServicer

log = structlog.get_logger("postsched.admin")

SERVICE_NAME = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
METRICS_PERIOD = 5.0  # seconds between refreshes of the queue gauges Prometheus scrapes
SHUTDOWN_GRACE_SECONDS = 5.0


async def serve(settings: AdminSettings) -> None:
    clock = Clock()
    db = await Database(settings.database_url).open()
    # The admin only reads the consumer's counts and hears heartbeats: it never makes the streams.
    nats = broker.NatsBroker(await broker.connect(settings.nats_urls, name="postsched-admin", options=settings.nats))
    store = AdminStore(db)
    operators = TokenBook(settings.operators)
    servicer = AdminServicer(
        store, nats, clock, PageTokens(settings.secret_key or operators.key_material()), retention_days=settings.retention_days
    )
    server = await start_server(
        settings.listen_addr,
        registrars=[lambda s: admin_pb2_grpc.add_AdminServiceServicer_to_server(servicer, s)],
        service_names=[SERVICE_NAME],
        authenticator=operators,
        tls=settings.tls,
    )
    cleaner = RetentionCleaner(store, clock, retention_days=settings.retention_days)
    duties = Supervisor(health=server.set_serving)
    duties.periodic("retention-cleanup", cleaner.run_once, cleaner.period, first_delay=0)
    duties.periodic("fold-counters", CounterFolder(db).run_once, FOLD_PERIOD)
    duties.periodic("queue-metrics", servicer.queue_stats, METRICS_PERIOD, first_delay=0)
    replicas = Replicas()
    await replicas.listen(nats)
    dashboard = Dashboard(servicer.queue_stats, store, DashboardStore(db), clock, replicas, operators=operators,
                          sessions=DashboardSessionStore(db), settings=settings.dashboard,
                          tracing_ui_url=settings.tracing_ui_url)
    if settings.dashboard.addr:
        try:
            await dashboard.start(settings.dashboard.addr)
        except OSError as exc:
            raise ConfigError(f"cannot serve the dashboard on {settings.dashboard.addr}: {exc.strerror or exc}; "
                              "set POSTSCHED_DASHBOARD_ADDR to another port, or to off") from None
    log.info("admin listening", addr=settings.listen_addr, port=server.port, retention_days=settings.retention_days)
    await wait_for_shutdown_signal()
    log.info("admin stopping")
    await dashboard.stop()
    await duties.stop()
    await server.stop(SHUTDOWN_GRACE_SECONDS)
    await nats.drain()
    await db.close()
    log.info("admin stopped")
