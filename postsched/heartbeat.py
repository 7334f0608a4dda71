"""Heartbeats: every dispatcher and publisher says on core NATS, every few seconds, that it is alive,
whether all its duties run, and a few figures; the admin's dashboard lists every replica it hears
from, with no list of addresses to keep (postsched.status.<service>.<instance>)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable


from postsched import broker
from postsched.duties import Supervisor

SUBJECT = "postsched.status"
PERIOD = 2.0  # seconds between heartbeats
GONE_AFTER = 10.0  # seconds of silence after which a replica is shown as gone
MAX_HEARTBEAT_BYTES = 16 * 1024
MAX_REPLICAS = 1000  # instances listed at once: a flood of made-up ones cannot grow the admin


class Heartbeat:
    def __init__(self, nats: broker.Broker, service: str, instance: str, duties: Supervisor,
                 figures: Callable[[], dict[str, Any]]) -> None:
        self._broker = nats
        self._subject = f"{SUBJECT}.{service}.{instance.replace('.', '_')}"
        self._body = {"service": service, "instance": instance}
        self._duties = duties
        self._figures = figures

    async def run_once(self) -> int:
        body = {**self._body, "healthy": self._duties.healthy, "figures": self._figures(),
                "duties": {name: state.healthy for name, state in self._duties.states.items()}}
        await self._broker.notify(self._subject, json.dumps(body).encode())
        return 1


@dataclass
class Replicas:
    """What the admin last heard from each replica."""

    now: Callable[[], float] = time.monotonic
    seen: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    dropped: int = 0  # messages on the subject that were not heartbeats

    async def listen(self, nats: broker.Broker) -> None:
        await nats.hear( f"{SUBJECT}.>", self._heard)

    async def _heard(self, data: bytes) -> None:
        body = parse(data)
        if body is None:
            self.dropped += 1  # anyone on the subject can send anything: only the shape we send is kept
            return
        if len(self.seen) < MAX_REPLICAS or body["instance"] in self.seen:
            self.seen[body["instance"]] = (self.now(), body)

    def listing(self) -> list[dict[str, Any]]:
        now = self.now()
        for instance, (at, _) in list(self.seen.items()):
            if now - at > 6 * GONE_AFTER:
                del self.seen[instance]  # long gone: forget it
        return sorted(({**body, "seconds_ago": round(now - at, 1), "gone": now - at > GONE_AFTER}
                       for at, body in self.seen.values()), key=lambda b: (b["service"], b["instance"]))


def parse(data: bytes) -> dict[str, Any] | None:
    """A heartbeat as Heartbeat sends it, or None: a service and an instance (short strings), a
    health flag, duties as name -> bool and figures as name -> number; nothing else is kept."""
    if len(data) > MAX_HEARTBEAT_BYTES:
        return None
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    service, instance = body.get("service"), body.get("instance")
    duties, figures = body.get("duties", {}), body.get("figures", {})
    if not (isinstance(service, str) and isinstance(instance, str) and 0 < len(service) <= 64
            and 0 < len(instance) <= 200 and isinstance(duties, dict) and isinstance(figures, dict)):
        return None
    return {
        "service": service, "instance": instance, "healthy": body.get("healthy") is True,
        "duties": {str(k)[:64]: v is True for k, v in list(duties.items())[:50]},
        "figures": {str(k)[:64]: v for k, v in list(figures.items())[:50]
                    if isinstance(v, (int, float)) and not isinstance(v, bool)},
    }
