"""Event callbacks: POSTs each tenant's events to its webhook, in order, signed, retried.

Headers as for post webhooks: `X-Postsched-Signature: t=…,v1=…` (postsched.signing) with the
tenant's event secret, `Idempotency-Key: <event_id>` (a receiver drops repeats: a delivery whose
2xx was lost is sent again), `X-Postsched-Event-Type`. The body is the Event as JSON with the
proto field names, the same as on NATS. A failed delivery is retried with exponential backoff
(1 s doubling, capped at POSTSCHED_EVENT_RETRY_MAX) for 3 days, then given up and logged; the
events after it wait meanwhile, so a receiver sees a tenant's events (and a post's) in order.

Tenants are delivered side by side: each round leases one tenant (the store), runs as a task of
its own for at most ROUND_SECONDS plus one call, and records what it did; at most
`concurrency` rounds run at once per publisher, and one tenant has one round at a time, with at
most its `in_flight` calls out at once (1 by default: strictly in order). A slow endpoint holds
its own round only. No database transaction is open during a call.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime, timedelta
from typing import Callable

import aiohttp
import structlog

from postsched import telemetry
from postsched.backoff import Backoff
from postsched.clock import Clock
from postsched.credentials import CredentialBox
from postsched.messages import event_json
from postsched.outbound import OutboundRefused, TenantHttp
from postsched.signing import HEADER, signature
from postsched.errors import PostschedError
from postsched.store.event_webhooks import Attempt, DeliveryAttempt, DeliveryRound, EventWebhookStore, WebhookRecord
from postsched.store.events import EventRecord

log = structlog.get_logger("postsched.event_delivery")
GIVE_UP_AFTER = timedelta(days=3)
RETRY_BASE = 1.0
ROUND_SECONDS = 5.0  # a tenant's round starts no call after this long (then others get their turn)
BATCH = 100
MAX_ERROR = 300


class EventDelivery:
    def __init__(
        self, http: TenantHttp, store: EventWebhookStore, box: CredentialBox, clock: Clock,
        *, owner: str, timeout: float, retry_max: float, concurrency: int,
        in_flight: Callable[[str], int] = lambda tenant: 1,
    ) -> None:
        self._http = http
        self._store = store
        self._box = box
        self._clock = clock
        self._owner = owner
        self._timeout = timeout
        self._backoff = Backoff(RETRY_BASE, max(RETRY_BASE, retry_max)).delay  # seconds before attempt n + 1
        self._concurrency = concurrency
        self._in_flight = in_flight
        # A round outlives its lease only if it overran ROUND_SECONDS by more than a call.
        self._lease = 2 * (ROUND_SECONDS + timeout)
        self._rounds: dict[str, asyncio.Task[None]] = {}
        self.period = 0.5



    async def _post(self, hook: WebhookRecord, event: EventRecord) -> Attempt:
        body = event_json(event)
        secret = self._box.open(hook.secret)["secret"]
        headers = {
            "Content-Type": "application/json", HEADER: signature(secret, int(time.time()), body),
            "Idempotency-Key": str(event.event_id), "X-Postsched-Event-Type": event.type,
        }
        started = time.monotonic()
        try:
            answer = await self._http.post(hook.url, body, headers, timeout=self._timeout)
        except OutboundRefused as exc:
            return Attempt(False, None, f"not called: {exc.reason}"[:MAX_ERROR], 0)
        except aiohttp.ClientConnectorError as exc:
            # The kind of failure only: the operating system's words would map the network.
            error = f"cannot connect ({type(exc.os_error).__name__})"
        except (asyncio.TimeoutError, TimeoutError):
            error = f"no answer within {self._timeout:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            error = f"the call failed ({type(exc).__name__})"
        else:
            ms = int((time.monotonic() - started) * 1000)
            if 200 <= answer.status < 300:
                return Attempt(True, answer.status, None, ms)
            redirect = " (a redirect: redirects are not followed)" if 300 <= answer.status < 400 else ""
            return Attempt(False, answer.status, f"HTTP {answer.status}{redirect}", ms)
        return Attempt(False, None, error, int((time.monotonic() - started) * 1000))

    async def run_once(self) -> int:
        """Starts a round for each tenant whose events are due, while fewer than `concurrency`
        rounds run here; returns how many it started."""
        free = self._concurrency - len(self._rounds)
        if free <= 0:
            return 0
        with telemetry.untraced():  # a poll twice a second: spans of it would drown the real ones
            hooks = await self._store.lease_due(owner=self._owner, now=self._clock.now(), lease=self._lease,
                                                limit=free, skip=list(self._rounds))
        for hook in hooks:
            task = asyncio.create_task(self._round(hook))
            self._rounds[hook.tenant_id] = task
            task.add_done_callback(functools.partial(self._round_done, hook.tenant_id))
        return len(hooks)

    def _round_done(self, tenant_id: str, _: asyncio.Task[None]) -> None:
        self._rounds.pop(tenant_id, None)

    async def stop(self) -> None:
        """Cancels the rounds in flight (their leases run out; their events go again later)."""
        for task in list(self._rounds.values()):
            task.cancel()
        if self._rounds:
            await asyncio.wait(list(self._rounds.values()), timeout=5)

    async def _round(self, hook: WebhookRecord) -> None:
        with telemetry.untraced():
            try:
                events = await self._store.pending_events(hook, limit=BATCH)
                round_ = await self._deliver(hook, events)
                if not await self._store.record_round(hook, round_, owner=self._owner, now=self._clock.now()):
                    log.warning("event delivery round outlived its lease", tenant=hook.tenant_id)
            except PostschedError as exc:
                # Its lease runs out and the round is done again: receivers drop repeats.
                log.warning("event delivery round not recorded", tenant=hook.tenant_id, error=str(exc))
            except Exception:
                log.exception("event delivery round crashed", tenant=hook.tenant_id)

    async def _deliver(self, hook: WebhookRecord, events: list[EventRecord]) -> DeliveryRound:
        """Delivers events in order, `in_flight` at a time, until one fails or the round's time is
        up; the cursor moves over the delivered (or given up) ones from the first on."""
        deadline = time.monotonic() + ROUND_SECONDS
        window = max(1, self._in_flight(hook.tenant_id))
        attempts: list[DeliveryAttempt] = []
        head_attempts, first = hook.head_attempts, hook.head_first_attempt_at
        delivered, last_error, next_at = hook.delivered, hook.last_error, None
        for start in range(0, len(events), window):
            if time.monotonic() >= deadline:
                break
            chunk = events[start:start + window]
            at = self._clock.now()
            results = await asyncio.gather(*(self._post(hook, event) for event in chunk))
            stopped = False
            for event, result in zip(chunk, results):
                if stopped:  # went out beside a failure: logged, and sent again after it
                    attempts.append(self._logged(event, 1, "delivered" if result.delivered else "retrying", result, at))
                    continue
                first = first or at
                head_attempts += 1
                outcome = "delivered" if result.delivered else ("given_up" if at - first >= GIVE_UP_AFTER else "retrying")
                attempts.append(self._logged(event, head_attempts, outcome, result, at))
                if outcome == "retrying":
                    next_at, last_error, stopped = at + timedelta(seconds=self._backoff(head_attempts)), result.error, True
                    continue
                delivered, head_attempts, first = event.sequence, 0, None
                last_error = result.error if outcome == "given_up" else None
            if stopped:
                break
        return DeliveryRound(attempts, delivered, head_attempts, first, next_at, last_error)

    @staticmethod
    def _logged(event: EventRecord, attempt: int, outcome: str, result: Attempt, at: datetime) -> DeliveryAttempt:
        return DeliveryAttempt(event.event_id, event.sequence, event.type, attempt, outcome, result.status_code,
                               result.error, result.duration_ms, at)
