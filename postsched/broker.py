"""NATS JetStream: connecting, the stream and consumer every service agrees on, message shapes.

One stream (limits retention, a day's messages, file storage) holds posts to publish on
`postsched.publish.<platform>`; one durable pull consumer, shared by all publishers, delivers them.
Alerts go to `postsched.alerts.>`, kept in a stream of their own so an alert raised while nobody
listens is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import ssl
import uuid
from typing import Any, Awaitable, Callable, Protocol
from urllib.parse import urlsplit
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from postsched.errors import ConfigError, PostschedError, Unavailable
from postsched.keys import MessageKey
from postsched.settings import JetStreamSettings, NatsOptions

# 2.10.20-2.10.22 lose whole streams when the process crashes, and earlier pull consumers handle
# MaxDeliver late (Jepsen's NATS 2.12.1 analysis; fixed in 2.10.23). Checked at every connect.
MIN_NATS_VERSION = (2, 10, 23)

log = structlog.get_logger("postsched.broker")

STREAM = "POSTSCHED"
PUBLISH_SUBJECTS = "postsched.publish.>"
CONSUMER = "publishers"
# Limits retention, not work-queue: with a work queue every ack deletes its message, and with
# sync_interval always a delete from any but the stream's last block is a tombstone written and
# fsynced: a fetch + ack cost nats-server 82 us of CPU per message with 20,000 waiting and 171 us
# with 100,000, against 10 and 11 with limits retention (bench/nats_acks.py). Acked messages stay
# until they are a day old: a post unclaimed that long was dispatched again long before
# (POSTSCHED_HANDOVER_TIMEOUT) and its old message is stale; one that expires unconsumed is found
# by the lost-message check.
PUBLISH_MAX_AGE = 24 * 3600.0
ALERTS_STREAM = "POSTSCHED_ALERTS"
ALERT_SUBJECTS = "postsched.alerts.>"
ALERTS_MAX_AGE = 30 * 24 * 3600.0
# Post events for backends on the same NATS (the dispatcher's event relay publishes them).
EVENTS_STREAM = "POSTSCHED_EVENTS"
EVENT_SUBJECTS = "postsched.events.>"
EVENTS_MAX_AGE = 7 * 24 * 3600.0
EVENTS_DUPLICATE_WINDOW = 600.0  # a relay that crashed between publish and cursor update re-sends


def tenant_token(tenant_id: str) -> str:
    """A tenant id as one subject token, one to one: tenant ids hold letters, digits, '-', '_' and
    '.'; the '.' (which would split the token) becomes '~', which no tenant id holds, so `acme.corp`
    (acme~corp) and `acme_corp` never share a subject."""
    return tenant_id.replace(".", "~")


def event_subject(tenant_id: str, event_type: str) -> str:
    """postsched.events.<tenant token>.<type>."""
    return f"postsched.events.{tenant_token(tenant_id)}.{event_type}"


def publish_subject(platform: str) -> str:
    return f"postsched.publish.{platform}"


@dataclass(frozen=True)
class PublishMessage:
    """What a publish message carries: enough to find the post, and whose it is, so a publisher
    can share itself fairly among tenants and accounts before it claims anything. The publisher
    reads the rest from the database. (A message of an earlier version has no tenant or account.)"""

    post_id: uuid.UUID
    generation: int
    tenant_id: str | None = None
    account_id: uuid.UUID | None = None
    mac: str = ""  # the dispatcher's HMAC over the above (HandoverSigner); a message without a valid one is dropped

    @property
    def key(self) -> MessageKey:
        return MessageKey(self.post_id, self.generation)

    @property
    def signed_part(self) -> bytes:
        return f"{self.post_id}|{self.generation}|{self.tenant_id or ''}|{self.account_id or ''}".encode()

    def encode(self) -> bytes:
        return json.dumps({"post_id": str(self.post_id), "generation": self.generation, "tenant": self.tenant_id,
                           "account": str(self.account_id) if self.account_id else None, "mac": self.mac}).encode()

    @classmethod
    def decode(cls, data: bytes) -> "PublishMessage":
        body = json.loads(data)
        account = body.get("account")
        tenant = body.get("tenant")
        return cls(post_id=uuid.UUID(body["post_id"]), generation=int(body["generation"]),
                   tenant_id=str(tenant) if tenant else None, account_id=uuid.UUID(account) if account else None,
                   mac=str(body.get("mac") or ""))


class HandoverSigner:
    """Signs hand-over messages and checks them: only a holder of POSTSCHED_SECRET_KEY (a dispatcher)
    can make a publisher act on one. A key of its own, derived from the secret."""

    def __init__(self, secret_key: bytes) -> None:
        self._key = hmac.new(secret_key, b"postsched hand-over messages v1", hashlib.sha256).digest()

    def _mac(self, message: PublishMessage) -> str:
        return hmac.new(self._key, message.signed_part, hashlib.sha256).hexdigest()[:32]

    def sign(self, message: PublishMessage) -> PublishMessage:
        return dataclasses.replace(message, mac=self._mac(message))

    def valid(self, message: PublishMessage) -> bool:
        return bool(message.mac) and hmac.compare_digest(message.mac, self._mac(message))


def check_server_version(nc: NATS) -> None:
    """Refuses a nats-server older than MIN_NATS_VERSION: 2.10.20-2.10.22 lose whole streams when
    the process crashes, and earlier pull consumers handle MaxDeliver late."""
    version = nc.connected_server_version
    have = (version.major, version.minor, version.patch)
    if have < MIN_NATS_VERSION:
        raise ConfigError(
            f"nats-server {'.'.join(map(str, have))} at {nc.connected_url.netloc if nc.connected_url else '?'} is too old: "
            f"postsched needs {'.'.join(map(str, MIN_NATS_VERSION))} or newer (2.10.20-2.10.22 lose streams on a crash)"
        )


def redacted(url: str) -> str:
    """A NATS URL fit for a log line: its password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _auth_options(urls: list[str], options: NatsOptions) -> dict[str, object]:
    """nats.connect's keyword arguments for credentials and TLS; warns once when NATS is reached
    without any credential off loopback (a server without authorization: tests, a private network)."""
    kwargs: dict[str, object] = {}
    if options.user:
        kwargs.update(user=options.user, password=options.password)
    if options.creds:
        with open(options.creds, encoding="utf-8", errors="replace") as f:
            jwt = "BEGIN NATS USER JWT" in f.read()
        kwargs["user_credentials" if jwt else "nkeys_seed"] = options.creds
    if options.tls_ca or options.tls_cert:
        context = ssl.create_default_context(cafile=options.tls_ca or None)
        if options.tls_cert:
            context.load_cert_chain(options.tls_cert, options.tls_key)
        kwargs["tls"] = context
    hosts = [urlsplit(u).hostname or "" for u in urls]
    if not options.creds and not options.user and not any(urlsplit(u).username for u in urls) and not all(
            h in ("localhost", "127.0.0.1", "::1") for h in hosts):
        log.warning("connecting to NATS off loopback without credentials: anyone who reaches it can read and "
                    "publish everything; see POSTSCHED_NATS_URL (nats://user:password@host:port) and "
                    "POSTSCHED_NATS_CREDS", servers=[redacted(u) for u in urls])
    return kwargs


async def connect(urls: list[str], name: str, *, options: NatsOptions | None = None, timeout: float = 30.0) -> NATS:
    """Connects (retrying for up to `timeout` seconds) and keeps reconnecting forever afterwards.
    Credentials NATS refuses stop the service with one line (ConfigError), never a retry loop."""
    refused: list[str] = []

    async def on_error(exc: Exception) -> None:
        if "authorization" in str(exc).lower():
            refused.append(str(exc))
        log.warning("nats error", error=str(exc))

    async def on_disconnect() -> None:
        log.warning("nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected")

    def unavailable(exc: BaseException) -> PostschedError:
        if refused:
            return ConfigError(f"NATS refused postsched's credentials ({refused[-1]}); check the user and password "
                               "in POSTSCHED_NATS_URL (nats://user:password@host:port) or POSTSCHED_NATS_CREDS")
        return Unavailable(f"cannot reach NATS at {','.join(redacted(u) for u in urls)}: {exc or type(exc).__name__}")

    extra = _auth_options(urls, options or NatsOptions())
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            # nats-py retries a refused login forever (max_reconnect_attempts=-1 also governs the
            # first connection): bounded here, and a refusal seen on the way decides the error.
            nc = await asyncio.wait_for(nats.connect(
                servers=urls, name=name, connect_timeout=2, allow_reconnect=True,
                max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                error_cb=on_error, disconnected_cb=on_disconnect, reconnected_cb=on_reconnect, **extra,
            ), timeout=max(1.0, deadline - asyncio.get_running_loop().time()))
            try:
                check_server_version(nc)
            except ConfigError:
                await nc.close()
                raise
            return nc
        except (nats.errors.Error, OSError, asyncio.TimeoutError) as exc:
            if refused or asyncio.get_running_loop().time() > deadline:
                raise unavailable(exc) from None
            await asyncio.sleep(0.5)


def _stream_config(settings: JetStreamSettings) -> api.StreamConfig:
    return api.StreamConfig(
        name=STREAM,
        subjects=[PUBLISH_SUBJECTS],
        retention=api.RetentionPolicy.LIMITS,
        max_age=PUBLISH_MAX_AGE,
        storage=api.StorageType.FILE,
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window,
    )


def _consumer_config(settings: JetStreamSettings) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        durable_name=CONSUMER,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        filter_subject=PUBLISH_SUBJECTS,
        max_deliver=settings.max_deliveries,
        ack_wait=settings.ack_wait,
        backoff=list(settings.backoff) or None,
        max_ack_pending=settings.max_ack_pending,
        num_replicas=settings.replicas,
    )


async def _add_if_missing(js: JetStreamContext, config: api.StreamConfig) -> None:
    """Creates a side stream (alerts, events) the first time; an existing one is left as it is."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)


async def ensure_jetstream(js: JetStreamContext, settings: JetStreamSettings) -> None:
    """Creates or updates the stream, the alerts stream and the publishers' consumer; idempotent.

    What nats-server can change in place is updated; what it cannot (retention, storage) stops the
    process with a message saying what to do.
    """
    wanted = _stream_config(settings)
    try:
        info = await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        await js.add_stream(wanted)
        log.info("created stream", stream=STREAM, replicas=settings.replicas)
    else:
        have = info.config
        if have.retention == api.RetentionPolicy.WORK_QUEUE and have.storage == wanted.storage:
            # Made by an earlier postsched: it works, at the cost the comment on PUBLISH_MAX_AGE
            # gives; nats-server cannot change retention in place, so it is kept as it is.
            log.warning("stream has work-queue retention; limits retention costs NATS far less in a deep backlog",
                        stream=STREAM, fix=f"drain it, delete it (nats stream rm {STREAM}) and start again")
            wanted.retention, wanted.max_age = have.retention, have.max_age
        fixed = [
            f"{field}={getattr(have, field)} (postsched needs {getattr(wanted, field)})"
            for field in ("retention", "storage")
            if getattr(have, field) != getattr(wanted, field)
        ]
        if fixed:
            raise ConfigError(
                f"JetStream stream {STREAM} exists with {', '.join(fixed)}, which nats-server cannot change "
                f"in place; drain it, delete it (nats stream rm {STREAM}) and start again"
            )
        if (have.subjects, have.num_replicas, have.duplicate_window, have.max_age) != (
            wanted.subjects, wanted.num_replicas, wanted.duplicate_window, wanted.max_age
        ):
            try:
                await js.update_stream(wanted)
            except nats.js.errors.APIError as exc:
                raise ConfigError(f"cannot update JetStream stream {STREAM}: {exc.description}") from exc
            log.info("updated stream", stream=STREAM, replicas=settings.replicas)
    await _add_if_missing(js, api.StreamConfig(
        name=ALERTS_STREAM, subjects=[ALERT_SUBJECTS], storage=api.StorageType.FILE,
        num_replicas=settings.replicas, max_age=ALERTS_MAX_AGE,
    ))
    await _add_if_missing(js, api.StreamConfig(
        name=EVENTS_STREAM, subjects=[EVENT_SUBJECTS], storage=api.StorageType.FILE,
        num_replicas=settings.replicas, max_age=EVENTS_MAX_AGE, duplicate_window=EVENTS_DUPLICATE_WINDOW,
    ))
    try:
        await js.add_consumer(STREAM, _consumer_config(settings))
    except nats.js.errors.APIError as exc:
        raise ConfigError(
            f"cannot create or update JetStream consumer {CONSUMER} on {STREAM}: {exc.description}"
        ) from exc


# --- The port: what the services ask of NATS, with its failures in postsched's error tree. ---
# Services hold a Broker (NatsBroker here; postsched_devtools.memory_broker.MemoryBroker in the
# fast tests) and catch BrokerError / NotThere; nats' own classes stay in this module.
Client = NATS
# What nats-py raises when NATS is away, refuses, or does not answer in time.
_NATS_FAILURES = (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError, OSError)


class BrokerError(Unavailable):
    """NATS did not do what was asked: unreachable, refused, or not in time."""


class NotThere(BrokerError):
    """The stream, consumer or message asked for is not there."""


def _translated(exc: BaseException) -> BrokerError:
    text = str(exc) or type(exc).__name__
    return NotThere(text) if isinstance(exc, nats.js.errors.NotFoundError) else BrokerError(text)


@dataclass(frozen=True)
class ConsumerState:
    """The publishers' consumer's counts: messages not yet delivered, delivered and not answered,
    delivered more than once, and pull requests waiting."""

    pending: int = 0
    ack_pending: int = 0
    redelivered: int = 0
    waiting: int = 0


class Delivery(Protocol):
    """One message fetched from the publishers' consumer. It is answered once: ack (done), nak
    (again after `delay` seconds), term (never again); in_progress says it is still being worked
    on. An answer the broker does not take raises BrokerError."""

    @property
    def data(self) -> bytes: ...
    @property
    def subject(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def delivered(self) -> int:
        """Which delivery of the message this is (1 the first)."""
    async def ack(self) -> None: ...
    async def nak(self, delay: float | None = None) -> None: ...
    async def term(self) -> None: ...
    async def in_progress(self) -> None: ...


class Pull(Protocol):
    """A bound pull subscription on the publishers' consumer."""

    async def fetch(self, want: int, *, idle: float, gather: float) -> list[Delivery]:
        """Up to `want` messages, as soon as there is one; [] if none came within `idle` seconds
        (then more that arrive within `gather` seconds join the batch)."""
    async def close(self) -> None: ...


class Sends(Protocol):
    """Messages published to the stream pipelined: each send returns once the message is on its
    way; settle() waits for the acknowledgements (at most `timeout`) and gives each message's
    stream sequence, or None if it was not acknowledged in time. A send that fails raises
    BrokerError and counts as not acknowledged."""

    async def send(self, subject: str, body: bytes, headers: dict[str, str]) -> None: ...
    def __len__(self) -> int: ...
    async def settle(self, timeout: float) -> list[int | None]: ...


class Broker(Protocol):
    """What the services ask of the message broker."""

    @property
    def connected(self) -> bool: ...
    async def ensure(self) -> None:
        """Makes the streams and the publishers' consumer, or brings them to the settings."""
    async def pull(self) -> Pull:
        """Binds to the publishers' consumer, making the stream and consumer first if they are gone."""
    def sends(self) -> Sends: ...
    async def consumer_state(self, *, timeout: float) -> ConsumerState:
        """NotThere if the consumer does not exist."""
    async def stream_bounds(self) -> tuple[int, int]:
        """The hand-over stream's first and last sequence; NotThere if the stream is gone."""
    async def stream_message(self, seq: int) -> bytes:
        """The body of the hand-over stream's message `seq`; NotThere if it is gone."""
    async def notify(self, subject: str, body: bytes) -> None:
        """A core message (alerts, heartbeats): sent, not acknowledged."""
    async def hear(self, subject: str, on_message: Callable[[bytes], Awaitable[None]]) -> None:
        """Calls `on_message` with the body of every core message on `subject` from now on."""
    async def drain(self) -> None: ...


class NatsBroker:
    """The Broker on a NATS connection with JetStream."""

    def __init__(self, nc: NATS, settings: JetStreamSettings | None = None, *,
                 publish_max_pending: int | None = None) -> None:
        self._nc = nc
        self._settings = settings or JetStreamSettings()
        self._js = nc.jetstream(publish_async_max_pending=publish_max_pending) if publish_max_pending else nc.jetstream()

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    async def ensure(self) -> None:
        try:
            await ensure_jetstream(self._js, self._settings)
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc

    async def pull(self) -> Pull:
        try:
            await ensure_jetstream(self._js, self._settings)
            return _NatsPull(await self._js.pull_subscribe_bind(durable=CONSUMER, stream=STREAM))
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc

    def sends(self) -> Sends:
        return _NatsSends(self._js)

    async def consumer_state(self, *, timeout: float) -> ConsumerState:
        try:
            info = await self._js.consumer_info(STREAM, CONSUMER, timeout=timeout)
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc
        return ConsumerState(pending=info.num_pending or 0, ack_pending=info.num_ack_pending or 0,
                             redelivered=info.num_redelivered or 0, waiting=info.num_waiting or 0)

    async def stream_bounds(self) -> tuple[int, int]:
        try:
            state = (await self._js.stream_info(STREAM)).state
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc
        return state.first_seq, state.last_seq

    async def stream_message(self, seq: int) -> bytes:
        try:
            return (await self._js.get_msg(STREAM, seq=seq)).data or b""
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc

    async def notify(self, subject: str, body: bytes) -> None:
        try:
            await self._nc.publish(subject, body)
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc

    async def hear(self, subject: str, on_message: Callable[[bytes], Awaitable[None]]) -> None:
        async def deliver(msg: Msg) -> None:
            await on_message(msg.data)

        try:
            await self._nc.subscribe(subject, cb=deliver)
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc

    async def drain(self) -> None:
        with contextlib.suppress(*_NATS_FAILURES):
            await self._nc.drain()


class _NatsSends:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._futures: list[asyncio.Future[Any] | None] = []

    async def send(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            future = await self._js.publish_async(subject, body, headers=headers)
        except _NATS_FAILURES as exc:
            self._futures.append(None)
            raise _translated(exc) from exc
        self._futures.append(future)

    def __len__(self) -> int:
        return len(self._futures)

    async def settle(self, timeout: float) -> list[int | None]:
        pending = [f for f in self._futures if f is not None]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        sequences: list[int | None] = []
        for future in self._futures:
            if future is not None and future.done() and not future.cancelled() and future.exception() is None:
                sequences.append(future.result().seq)
            else:
                if future is not None and not future.done():
                    future.cancel()  # still waiting: not acknowledged
                sequences.append(None)
        return sequences


class _NatsDelivery:
    __slots__ = ("_msg",)

    def __init__(self, msg: Msg) -> None:
        self._msg = msg

    @property
    def data(self) -> bytes:
        return self._msg.data

    @property
    def subject(self) -> str:
        return self._msg.subject

    @property
    def headers(self) -> dict[str, str]:
        return self._msg.headers or {}

    @property
    def delivered(self) -> int:
        return self._msg.metadata.num_delivered

    async def ack(self) -> None:
        await _answer(self._msg.ack())

    async def nak(self, delay: float | None = None) -> None:
        await _answer(self._msg.nak(delay=delay))

    async def term(self) -> None:
        await _answer(self._msg.term())

    async def in_progress(self) -> None:
        await _answer(self._msg.in_progress())


async def _answer(call: Awaitable[None]) -> None:
    try:
        await call
    except _NATS_FAILURES as exc:
        raise _translated(exc) from exc


class _NatsPull:
    def __init__(self, sub: JetStreamContext.PullSubscription) -> None:
        self._sub = sub

    async def fetch(self, want: int, *, idle: float, gather: float) -> list[Delivery]:
        # One fetch(want, timeout=1) would hold the first message back until `want` had arrived
        # or the second was over: nats-server treats a pull with an expiry as a lingering one, and
        # nats-py collects the batch until the deadline. At a steady trickle that was up to a
        # second of lateness (p99 1.07 s at 125 posts/s). So wait for one message, then take
        # whatever else is there within `gather` seconds: a burst still goes in full batches.
        try:
            try:
                messages = await self._sub.fetch(1, timeout=idle)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                return []
            if want > 1:
                with contextlib.suppress(nats.errors.TimeoutError, asyncio.TimeoutError):
                    messages += await self._sub.fetch(want - 1, timeout=gather)
        except _NATS_FAILURES as exc:
            raise _translated(exc) from exc
        return [_NatsDelivery(m) for m in messages]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()
