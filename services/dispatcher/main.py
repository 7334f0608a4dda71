"""`postsched serve dispatcher`: the dispatcher as its own process."""

from __future__ import annotations

import os
import socket
import uuid

import structlog

from postsched import broker
from postsched.auth import TokenBook
from postsched.clock import Clock
from postsched.duties import Supervisor
from postsched.heartbeat import PERIOD as HEARTBEAT_PERIOD, Heartbeat
from postsched.grpc_server import start_server, wait_for_shutdown_signal
from postsched.settings import DispatcherSettings
from postsched.store.counters import FOLD_PERIOD, CounterFolder
from postsched.store.database import Database
from postsched.store.posts.dispatch import DispatchStore
from postsched.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from services.dispatcher.dispatcher import MISSED_PERIOD, PACE_PERIOD, Dispatcher, listen_for_due
from postsched.store.events import EventStore
from services.dispatcher.event_relay import RELAY_PERIOD, EventRelay
from postsched.store.recurring import RecurringStore
from services.dispatcher.horizon import HORIZON_PERIOD, Horizon
from services.dispatcher.handover import PUBLISH_MAX_PENDING, Handover
from services.dispatcher.lost_messages import LostMessages
from services.dispatcher.servicer import DispatcherServicer
from services.dispatcher.stats import DispatcherStats

log = structlog.get_logger("postsched.dispatcher")

SERVICE_NAME = dispatcher_pb2.DESCRIPTOR.services_by_name["DispatcherService"].full_name
SHUTDOWN_GRACE_SECONDS = 10.0


async def serve(settings: DispatcherSettings) -> None:
    clock = Clock()
    instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    db = await Database(settings.database_url).open()
    nc = await broker.connect(settings.nats_urls, name=f"postsched-dispatcher-{instance_id}", options=settings.nats)
    # Unacknowledged publishes of one round are cancelled after its ack timeout, so a round never
    # waits on this limit (waiting on it during a NATS outage would stall the hand-over for good).
    nats = broker.NatsBroker(nc, settings.jetstream, publish_max_pending=PUBLISH_MAX_PENDING)
    await nats.ensure()

    stats = DispatcherStats(started_at=clock.now())
    store = DispatchStore(db, missed_grace=settings.missed_occurrence_grace)
    handover = Handover(
        nats, store, clock, stats, broker.HandoverSigner(settings.secret_key), lease_grace=settings.lease_grace,
        handover_timeout=settings.handover_timeout,
    )
    dispatcher = Dispatcher(
        store, handover, clock, stats, instance_id=instance_id, interval=settings.interval,
        batch=settings.batch, lease_grace=settings.lease_grace,
    )
    servicer = DispatcherServicer(dispatcher, handover, stats, nats)
    server = await start_server(
        settings.listen_addr,
        registrars=[lambda s: dispatcher_pb2_grpc.add_DispatcherServiceServicer_to_server(servicer, s)],
        service_names=[SERVICE_NAME],
        authenticator=TokenBook(settings.operators),
        tls=settings.tls,
    )
    duties = Supervisor(health=server.set_serving)
    duties.loop("handover", handover.run)
    handover.repair = nats.ensure
    duties.loop("listen", lambda: listen_for_due(db.listen, dispatcher))
    duties.loop("catch-up", dispatcher.run_catch_up)
    duties.periodic("rescuer", dispatcher.rescue_once, dispatcher.rescue_period)
    duties.periodic("ticks", dispatcher.tick_once, settings.interval, first_delay=0)
    duties.periodic("pacing", dispatcher.pace_once, PACE_PERIOD, first_delay=0)
    horizon = Horizon(RecurringStore(db, clock), clock, horizon=settings.recurrence_horizon)
    duties.periodic("recurrence-horizon", horizon.run_once, HORIZON_PERIOD, first_delay=0)
    duties.periodic("missed-occurrences", dispatcher.skip_missed_once, MISSED_PERIOD, first_delay=0)
    lost = LostMessages(nats, store, clock, lost_after=settings.lost_message_after)
    duties.periodic("lost-messages", lost.run_once, lost.period)
    relay = EventRelay(nats, EventStore(db), clock, owner=instance_id)
    duties.periodic("event-relay", relay.run_once, RELAY_PERIOD, first_delay=0)
    duties.periodic("fold-counters", CounterFolder(db).run_once, FOLD_PERIOD)
    beat = Heartbeat(nats, "dispatcher", instance_id, duties, lambda: {
        "holding": handover.holding, "leased": stats.leased_total, "handed over": stats.published_total})
    duties.periodic("heartbeat", beat.run_once, HEARTBEAT_PERIOD, first_delay=0)
    log.info("dispatcher listening", addr=settings.listen_addr, port=server.port, instance=instance_id,
             interval=settings.interval)
    await wait_for_shutdown_signal()
    log.info("dispatcher stopping")
    await duties.stop("listen", "catch-up", "rescuer", "ticks", "pacing", "recurrence-horizon", "missed-occurrences", "lost-messages", "event-relay", "fold-counters", "heartbeat")
    # Lets a hand-over in flight finish, then gives back what is still held, for another dispatcher.
    released = await handover.release_all("dispatcher shut down before the post's time")
    await duties.stop()
    log.info("released held posts", posts=released)
    await server.stop(SHUTDOWN_GRACE_SECONDS)
    await nats.drain()
    await db.close()
    log.info("dispatcher stopped")
