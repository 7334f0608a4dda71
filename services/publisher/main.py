"""`postsched serve publisher`: the publisher as its own process."""

from __future__ import annotations

import os
import socket
import uuid

import aiohttp
import structlog

from postsched import broker, instruments
from postsched.auth import TokenBook
from postsched.clock import Clock
from postsched.credentials import CredentialBox
from postsched.duties import Supervisor
from postsched.outbound import TenantHttp
from postsched.heartbeat import PERIOD as HEARTBEAT_PERIOD, Heartbeat
from postsched.grpc_server import start_server, wait_for_shutdown_signal
from postsched.settings import PublisherSettings
from postsched.store.database import Database
from postsched.store.posts.preflight import PreflightStore
from postsched.store.posts.publishing import PublishingStore
from postsched.v1 import publisher_pb2, publisher_pb2_grpc
from postsched.store.event_webhooks import EventWebhookStore
from services.publisher.event_delivery import EventDelivery
from services.publisher.account_slots import AccountSlots
from services.publisher.attempt import Attempts
from services.publisher.consumer import Consumer, Work
from services.publisher.credentials_health import CredentialsHealth
from services.publisher.fair_share import FairShare
from services.publisher.leases import LeaseKeeper
from services.publisher.media_preflight import MediaPreflight
from services.publisher.platforms.facebook import FacebookPage
from services.publisher.platforms.graph_api import GraphClient, Usage
from services.publisher.platforms.instagram import Instagram
from services.publisher.quotas import PublishingQuotas
from postsched.store.quotas import QuotaStore
from services.publisher.platforms.facebook_video import VideoUploads
from services.publisher.platforms.outcomes import Adapter
from services.publisher.platforms.webhook import Webhook
from services.publisher.recorder import OutcomeRecorder
from services.publisher.rescuer import PublishingRescuer
from services.publisher.first_comments import FirstComments
from services.publisher.platforms.comments import GraphComments
from postsched.store.posts.comments import CommentStore
from services.publisher.retry import RetryPolicy
from services.publisher.servicer import PublisherServicer
from services.publisher.stats import PublisherStats

log = structlog.get_logger("postsched.publisher")

SERVICE_NAME = publisher_pb2.DESCRIPTOR.services_by_name["PublisherService"].full_name
SHUTDOWN_GRACE_SECONDS = 30.0


async def serve(settings: PublisherSettings) -> None:
    clock = Clock()
    instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    db = await Database(settings.database_url, max_size=max(10, min(50, settings.concurrency // 4))).open()
    nc = await broker.connect(settings.nats_urls, name=f"postsched-publisher-{instance_id}", options=settings.nats)
    nats = broker.NatsBroker(nc, settings.jetstream)
    await nats.ensure()
    stats = PublisherStats(started_at=clock.now())
    instruments.watch_rate_limited(lambda: [a.throttled_until for a in list(stats.accounts.values())])

    def usage_sink(meter: str, usage: Usage) -> None:
        rate = stats.accounts.get(meter)  # registered by the attempt that made the call
        if rate is not None:
            rate.app_usage_pct = usage.app_call_pct
            rate.business_usage_pct = usage.business_call_pct

    # One HTTP session for the Graph API (an operator-set URL): connection reuse matters more than
    # anything else here. Tenants' URLs go through the outbound guard's client of their own.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=settings.concurrency, ttl_dns_cache=300))
    tenant_http = TenantHttp(settings.outbound, connections=settings.concurrency)
    graph = GraphClient(session, settings.graph_base, timeout=settings.http_timeout, usage_sink=usage_sink)
    # Reels and video Stories: the same session, to Meta's upload host (POSTSCHED_META_UPLOAD_URL).
    quota = PublishingQuotas(QuotaStore(db), graph, clock, hold=settings.publish_timeout)
    uploads = VideoUploads(graph, GraphClient(session, settings.upload_base, timeout=settings.http_timeout,
                                              usage_sink=usage_sink),
                           poll_interval=settings.instagram_poll_interval, poll_timeout=settings.publish_timeout / 2,
                           quotas=quota)
    adapters: dict[str, Adapter] = {
        "facebook_page": FacebookPage(graph, uploads, attempt_span=settings.publish_timeout),
        "instagram": Instagram(graph, poll_interval=settings.instagram_poll_interval,
                               poll_timeout=settings.publish_timeout / 2, quota=quota),
        "webhook": Webhook(tenant_http, timeout=settings.http_timeout),
    }
    store = PublishingStore(db)
    fair: FairShare[Work] = FairShare(settings.concurrency, settings.account_concurrency,
                                      weight=lambda tenant: settings.limits.of(tenant).publish_weight)
    leases = LeaseKeeper(store, clock, lease=settings.publish_lease, max_hold=settings.publish_timeout)
    attempts = Attempts(
        adapters, store, CredentialBox(settings.secret_key), clock,
        RetryPolicy(base=settings.retry_base, cap=settings.retry_max), stats, leases,
        AccountSlots(settings.account_concurrency),
        max_deliveries=settings.jetstream.max_deliveries, handover_timeout=settings.handover_timeout,
        deadline=settings.publish_timeout, max_platform_wait=settings.max_platform_wait,
    )
    recorder = OutcomeRecorder(store, clock)
    consumer = Consumer(
        nats, store, attempts, recorder, clock, stats, fair, broker.HandoverSigner(settings.secret_key),
        owner=instance_id,
        lease=settings.publish_lease, ack_wait=settings.jetstream.effective_ack_wait,
    )
    rescuer = PublishingRescuer(nats, store, attempts, recorder, clock, owner=instance_id,
                                lease=settings.publish_lease)
    servicer = PublisherServicer(stats, quota, fair, nats, instance_id=instance_id, concurrency=settings.concurrency)
    server = await start_server(
        settings.listen_addr,
        registrars=[lambda s: publisher_pb2_grpc.add_PublisherServiceServicer_to_server(servicer, s)],
        service_names=[SERVICE_NAME],
        authenticator=TokenBook(settings.operators),
        tls=settings.tls,
    )
    # The recorder and the lease keeper outlive the consumer at shutdown: attempts finishing in the
    # grace period still renew their leases and record their outcomes.
    duties = Supervisor(health=server.set_serving)
    duties.loop("recorder", recorder.run)
    duties.periodic("lease-keeper", leases.run_once, leases.period)
    duties.loop("consumer", consumer.run, finished=consumer.stopped)
    consumer.health_to(lambda ok, error: duties.mark("consumer", ok, error))
    duties.periodic("rescuer", rescuer.run_once, rescuer.period)
    duties.periodic("keep-alive", consumer.keep_alive_once, consumer.keepalive_every)
    events = EventDelivery(tenant_http, EventWebhookStore(db), CredentialBox(settings.secret_key), clock,
                           owner=instance_id, timeout=min(settings.http_timeout, 10.0),
                           retry_max=settings.event_retry_max, concurrency=settings.event_concurrency,
                           in_flight=lambda tenant: settings.limits.of(tenant).event_deliveries_in_flight)
    duties.periodic("event-delivery", events.run_once, events.period, first_delay=0)
    if settings.credentials_check_period is not None:  # POSTSCHED_CREDENTIALS_CHECK_PERIOD=0: off
        health = CredentialsHealth(db, graph, CredentialBox(settings.secret_key), clock,
                                   period=settings.credentials_check_period, warning=settings.credentials_warning,
                                   tick=settings.credentials_check_tick, app_token=settings.meta_app_token)
        duties.periodic("credentials-health", health.run_once, health.period, first_delay=0)
    preflight = None
    if settings.media_preflight:  # POSTSCHED_MEDIA_PREFLIGHT=0: off
        preflight = MediaPreflight(tenant_http, PreflightStore(db), clock, window=settings.media_preflight)
        duties.periodic("media-preflight", preflight.run_once, preflight.period)
    first_comments = FirstComments(
        CommentStore(db), store, GraphComments(graph), CredentialBox(settings.secret_key), clock,
        RetryPolicy(base=settings.retry_base, cap=settings.retry_max),
        max_attempts=settings.jetstream.max_deliveries, http_timeout=settings.http_timeout,
        lease=settings.publish_lease, max_platform_wait=settings.max_platform_wait)
    duties.periodic("first-comments", first_comments.run_once, first_comments.period)
    beat = Heartbeat(nats, "publisher", instance_id, duties, lambda: {
        "in flight": stats.in_flight, "published": stats.published, "failed": stats.failed, "retried": stats.retried})
    duties.periodic("heartbeat", beat.run_once, HEARTBEAT_PERIOD, first_delay=0)
    log.info("publisher listening", addr=settings.listen_addr, port=server.port, instance=instance_id,
             graph_url=settings.graph_base, concurrency=settings.concurrency,
             account_concurrency=settings.account_concurrency, outbound_allow=settings.outbound.source or "nothing")
    await wait_for_shutdown_signal()
    log.info("publisher stopping: finishing attempts in flight")
    await duties.stop("rescuer", "event-delivery", "first-comments")
    await events.stop()
    if preflight is not None:
        await duties.stop("media-preflight")
        await preflight.stop()
    abandoned = await consumer.stop(SHUTDOWN_GRACE_SECONDS)
    await duties.stop("consumer", "keep-alive")
    await duties.stop()
    await server.stop(5.0)
    await session.close()
    await tenant_http.close()
    await nats.drain()
    await db.close()
    log.info("publisher stopped", abandoned=abandoned)

