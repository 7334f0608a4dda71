"""Event callbacks: POSTs each tenant's events to its webhook, in order, signed, retried.

Headers as for post webhooks: `X-Postsched-Signature: t=…,v1=…` (postsched.signing) with the
tenant's event secret, `Idempotency-Key: <event_id>` (a receiver drops repeats: a delivery whose
2xx was lost is sent again), `X-Postsched-Event-Type`. The body is the Event as JSON with the
proto field names, the same as on NATS. A failed delivery is retried with exponential backoff
(1 s doubling, capped at POSTSCHED_EVENT_RETRY_MAX) for 3 days, then given up and logged; the
events after it wait meanwhile, so a receiver sees a tenant's events (and a post's) in order.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import aiohttp

from postsched import telemetry
from postsched.clock import Clock
from postsched.credentials import CredentialBox
from postsched.messages import event_json
from postsched.outbound import OutboundRefused, TenantHttp
from postsched.signing import HEADER, signature
from postsched.store.event_webhooks import Attempt, EventWebhookStore, WebhookRecord
from postsched.store.events import EventRecord

GIVE_UP_AFTER = timedelta(days=3)
RETRY_BASE = 1.0
ROUND_SECONDS = 5.0  # a round moves on to the next poll after this long
BATCH = 100
MAX_ERROR = 300


class EventDelivery:
    def __init__(
        self, http: TenantHttp, store: EventWebhookStore, box: CredentialBox, clock: Clock,
        *, timeout: float, retry_max: float,
    ) -> None:
        self._http = http
        self._store = store
        self._box = box
        self._clock = clock
        self._timeout = timeout
        self._retry_max = retry_max
        self.period = 0.5

    def _backoff(self, attempt: int) -> float:
        return min(RETRY_BASE * 2 ** (attempt - 1), self._retry_max)

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

    async def run_once(self) -> None:
        """Delivers what is due, tenant by tenant, for up to ROUND_SECONDS."""
        with telemetry.untraced():  # a poll twice a second: spans of it would drown the real ones
            await self._deliver_due()

    async def _deliver_due(self) -> None:
        done_with: set[str] = set()
        deadline = time.monotonic() + ROUND_SECONDS
        while time.monotonic() < deadline:
            tenant, delivered = await self._store.deliver_next_tenant(
                self._post, now=self._clock.now, backoff=self._backoff, give_up_after=GIVE_UP_AFTER,
                limit=BATCH, skip=done_with,
            )
            if tenant is None:
                return
            if delivered < BATCH:  # caught up, or waiting to retry
                done_with.add(tenant)
