"""`postsched serve scheduler`: the scheduler as its own process."""

from __future__ import annotations

import structlog

from postsched.auth import Principal, TokenBook
from postsched.duties import Supervisor
from postsched.limits import RequestRate
from postsched.clock import Clock
from postsched.credentials import CredentialBox
from postsched.paging import PageTokens
from postsched.store.event_webhooks import EventWebhookStore
from postsched.store.events import EventStore
from postsched.grpc_server import (
    SCHEDULER_MAX_REQUEST_BYTES, Admission, RunningServer, start_server, wait_for_shutdown_signal,
)
from postsched.settings import SchedulerSettings
from postsched.store.accounts import AccountStore
from postsched.store.database import Database
from postsched.store.posts import PostStore
from postsched.store.recurring import RecurringStore
from postsched.store.schedules import ScheduleStore
from postsched.v1 import scheduler_pb2, scheduler_pb2_grpc
from services.scheduler.event_feed import EventFeed
from services.scheduler.servicer import SchedulerServicer

log = structlog.get_logger("postsched.scheduler")

SERVICE_NAME = scheduler_pb2.DESCRIPTOR.services_by_name["SchedulerService"].full_name
SHUTDOWN_GRACE_SECONDS = 10.0


def admission(rate: RequestRate) -> Admission:
    """Each call takes from its tenant's request rate; a batch takes one per post in it."""

    def admit(principal: Principal, method: str, request: object) -> None:
        if principal.tenant_id is not None:
            cost = len(request.requests) if isinstance(request, scheduler_pb2.BatchCreatePostsRequest) else 1
            rate.take(principal.tenant_id, max(1, cost))

    return admit


async def start(settings: SchedulerSettings, clock: Clock | None = None) -> tuple[RunningServer, Database, Supervisor]:
    """Starts the scheduler; returns the running server, the database pool and the duties to stop."""
    clock = clock or Clock()
    db = await Database(settings.database_url).open()
    box = CredentialBox(settings.secret_key)
    accounts = AccountStore(db, box, clock)
    await accounts.ensure_tenants(settings.api_tokens.names())
    events = EventStore(db)
    feed = EventFeed(db.listen, events)
    servicer = SchedulerServicer(
        accounts, PostStore(db, clock), events, EventWebhookStore(db), box, clock, PageTokens(settings.secret_key),
        settings.outbound, settings.limits, feed, RecurringStore(db, clock), ScheduleStore(db, clock),
    )
    server = await start_server(
        settings.listen_addr,
        registrars=[lambda s: scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(servicer, s)],
        service_names=[SERVICE_NAME],
        authenticator=TokenBook(settings.api_tokens),
        tls=settings.tls,
        max_request_bytes=SCHEDULER_MAX_REQUEST_BYTES,
        admission=admission(RequestRate(settings.limits)),
    )
    duties = Supervisor(health=server.set_serving)
    duties.loop("event-feed", feed.run)
    return server, db, duties


async def serve(settings: SchedulerSettings) -> None:
    server, db, duties = await start(settings)
    log.info("scheduler listening", addr=settings.listen_addr, port=server.port)
    await wait_for_shutdown_signal()
    log.info("scheduler stopping")
    await server.stop(SHUTDOWN_GRACE_SECONDS)
    await duties.stop()
    await db.close()
    log.info("scheduler stopped")
