"""Per-tenant quotas and request limits, with their defaults and per-tenant overrides in one place.

POSTSCHED_TENANT_LIMITS holds them as JSON, inline or as `@/path/to/limits.json`:

    {"default": {"live_posts": 500000}, "tenants": {"acme": {"requests_per_second": 1000, "publish_weight": 2}}}

Every key not given keeps the default of LIMITS; an unknown key or a value that is not a positive
whole number stops the service at start, naming the variable and the key. Over a limit a call is
refused with RESOURCE_EXHAUSTED and a google.rpc.QuotaFailure naming the limit, and nothing changes.
Limits counted in memory (requests, streams) are per scheduler process: with N schedulers behind
a load balancer a tenant gets up to N times as many.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from postsched.errors import ConfigError, QuotaExceeded

VARIABLE = "POSTSCHED_TENANT_LIMITS"


@dataclass(frozen=True)
class Limits:
    """One tenant's limits (the README's "Multi-tenant limits" table says the same)."""

    live_posts: int = 250_000  # posts SCHEDULED, QUEUED or PUBLISHING at once
    accounts: int = 10_000  # accounts not deleted
    recurring_posts: int = 1_000  # recurring posts ACTIVE or PAUSED (each keeps its horizon's occurrences live)
    requests_per_second: int = 500  # scheduler calls, refilled continuously; each BatchCreatePosts item counts
    request_burst: int = 5_000  # calls that may come at once (a full BatchCreatePosts is 1,000)
    watch_streams: int = 10  # WatchEvents streams open at once, per scheduler process
    event_deliveries_in_flight: int = 1  # event webhook calls out at once (1: strictly in order)
    publish_weight: int = 1  # share of each publisher's slots, against the other tenants' weights


NAMES = tuple(f.name for f in fields(Limits))


def _limits(base: Limits, given: Any, where: str) -> Limits:
    if not isinstance(given, dict):
        raise ConfigError(f"{VARIABLE}: {where} must be an object of limits")
    for key, value in given.items():
        if key not in NAMES:
            raise ConfigError(f"{VARIABLE}: {where} has an unknown limit {key!r}; known: {', '.join(NAMES)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{VARIABLE}: {where}.{key} must be a whole number of at least 1, got {value!r}")
    return replace(base, **given)


@dataclass(frozen=True)
class TenantLimits:
    default: Limits = Limits()
    tenants: Mapping[str, Limits] = field(default_factory=dict)

    def of(self, tenant: str) -> Limits:
        return self.tenants.get(tenant, self.default)

    @classmethod
    def parse(cls, text: str) -> "TenantLimits":
        text = text.strip()
        if not text:
            return cls()
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text()
            except OSError as exc:
                raise ConfigError(f"{VARIABLE}: cannot read {text[1:]}: {exc.strerror}") from None
        try:
            given = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{VARIABLE} is not valid JSON: {exc}") from None
        if not isinstance(given, dict) or set(given) - {"default", "tenants"}:
            raise ConfigError(f'{VARIABLE} must be {{"default": {{...}}, "tenants": {{"name": {{...}}}}}}')
        default = _limits(Limits(), given.get("default", {}), "default")
        tenants = given.get("tenants", {})
        if not isinstance(tenants, dict):
            raise ConfigError(f"{VARIABLE}: tenants must be an object of tenant names")
        return cls(default, {name: _limits(default, value, f"tenants.{name}") for name, value in tenants.items()})

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "TenantLimits":
        return cls.parse(env.get(VARIABLE, ""))


class RequestRate:
    """A token bucket per tenant: requests_per_second, up to request_burst at once."""

    def __init__(self, limits: TenantLimits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, when)

    def take(self, tenant: str, cost: int = 1) -> None:
        """Takes `cost` requests' worth, or raises QuotaExceeded (and takes nothing)."""
        limits = self._limits.of(tenant)
        now = self._monotonic()
        tokens, then = self._buckets.get(tenant, (float(limits.request_burst), now))
        tokens = min(float(limits.request_burst), tokens + (now - then) * limits.requests_per_second)
        if cost > tokens:
            self._buckets[tenant] = (tokens, now)
            wait = (cost - tokens) / limits.requests_per_second
            if cost > limits.request_burst:
                raise QuotaExceeded("request_burst", tenant,
                                    f"{cost} requests at once is more than the {limits.request_burst} allowed")
            raise QuotaExceeded("requests_per_second", tenant,
                                f"over {limits.requests_per_second} requests a second; retry in {wait:.2f} s")
        self._buckets[tenant] = (tokens - cost, now)


class StreamCount:
    """Open WatchEvents streams per tenant, in this process."""

    def __init__(self, limits: TenantLimits) -> None:
        self._limits = limits
        self._open: dict[str, int] = {}

    def open(self, tenant: str) -> None:
        """Counts one more stream, or raises QuotaExceeded."""
        limit = self._limits.of(tenant).watch_streams
        if self._open.get(tenant, 0) >= limit:
            raise QuotaExceeded("watch_streams", tenant, f"{limit} WatchEvents streams are open already")
        self._open[tenant] = self._open.get(tenant, 0) + 1

    def close(self, tenant: str) -> None:
        left = self._open.get(tenant, 0) - 1
        if left > 0:
            self._open[tenant] = left
        else:
            self._open.pop(tenant, None)
