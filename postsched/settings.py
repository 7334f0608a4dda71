"""Settings, read from the environment once at start and validated.

A missing or malformed variable raises ConfigError naming it; the CLI prints that one line
and exits with status 2.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from cryptography.fernet import Fernet

from postsched.auth import TokenConfig, operator_tokens, tenant_tokens
from postsched.errors import ConfigError
from postsched.limits import TenantLimits
from postsched.outbound import OutboundPolicy
from postsched.tls import TLSSettings

DEFAULT_ADDRS = {
    "scheduler": "127.0.0.1:50051",
    "dispatcher": "127.0.0.1:50052",
    "publisher": "127.0.0.1:50053",
    "admin": "127.0.0.1:50054",
}


# Prometheus /metrics of each service (POSTSCHED_<SERVICE>_METRICS_ADDR; "off" for none).
DEFAULT_METRICS_ADDRS = {
    "scheduler": "127.0.0.1:9101",
    "dispatcher": "127.0.0.1:9102",
    "publisher": "127.0.0.1:9103",
    "admin": "127.0.0.1:9104",
}

DEFAULT_DASHBOARD_ADDR = "127.0.0.1:8080"  # the admin's web dashboard (POSTSCHED_DASHBOARD_ADDR; "off" for none)


def metrics_addr(env: Mapping[str, str], service: str) -> str | None:
    """POSTSCHED_<SERVICE>_METRICS_ADDR: host:port of the service's Prometheus /metrics, None if "off"."""
    return addr_or_off(env, f"POSTSCHED_{service.upper()}_METRICS_ADDR", DEFAULT_METRICS_ADDRS[service])


def addr_or_off(env: Mapping[str, str], name: str, default: str) -> str | None:
    """A host:port variable that may also be "off" (None)."""
    value = env.get(name, "").strip() or default
    return None if value.lower() == "off" else _host_port(name, value, "host:port or off")


def _host_port(name: str, value: str, expected: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name} must be {expected}, got {value!r}")
    return value


def database_url(env: Mapping[str, str]) -> str:
    """POSTSCHED_DATABASE_URL as given: a plain libpq URL (postgresql://user@host:port/db)."""
    value = env.get("POSTSCHED_DATABASE_URL", "").strip()
    if not value:
        raise ConfigError("POSTSCHED_DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/postsched)")
    if not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"POSTSCHED_DATABASE_URL must start with postgresql://, got {value.split(':', 1)[0]!r}")
    return value


def nats_urls(env: Mapping[str, str]) -> list[str]:
    """POSTSCHED_NATS_URL: nats://host:port, several comma-separated for a cluster."""
    value = env.get("POSTSCHED_NATS_URL", "").strip()
    if not value:
        raise ConfigError("POSTSCHED_NATS_URL is not set (e.g. nats://127.0.0.1:4222)")
    urls = [u.strip() for u in value.split(",") if u.strip()]
    for url in urls:
        if not url.startswith(("nats://", "tls://")):
            raise ConfigError(f"POSTSCHED_NATS_URL: {url!r} must start with nats:// or tls://")
    return urls


@dataclass(frozen=True)
class NatsOptions:
    """How a service proves itself to NATS beyond the URL (which may carry user:password)."""

    user: str = ""  # POSTSCHED_NATS_USER / _PASSWORD: the same as user:password in every URL of
    password: str = field(default="", repr=False)  # POSTSCHED_NATS_URL (what compose and Kubernetes set)
    creds: str = ""  # POSTSCHED_NATS_CREDS: a .creds file (JWT and nkey) or an nkey seed file
    tls_ca: str = ""  # POSTSCHED_NATS_TLS_CA: the CA to verify NATS against (TLS to NATS)
    tls_cert: str = ""  # POSTSCHED_NATS_TLS_CERT / _KEY: a client certificate (mutual TLS)
    tls_key: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "NatsOptions":
        variables = {"user": "POSTSCHED_NATS_USER", "password": "POSTSCHED_NATS_PASSWORD",
                     "creds": "POSTSCHED_NATS_CREDS", "tls_ca": "POSTSCHED_NATS_TLS_CA",
                     "tls_cert": "POSTSCHED_NATS_TLS_CERT", "tls_key": "POSTSCHED_NATS_TLS_KEY"}
        options = cls(**{name: env.get(variable, "").strip() for name, variable in variables.items()})
        if bool(options.user) != bool(options.password):
            raise ConfigError("POSTSCHED_NATS_USER and POSTSCHED_NATS_PASSWORD go together")
        for name in ("creds", "tls_ca", "tls_cert", "tls_key"):
            path = getattr(options, name)
            if path and not os.path.isfile(path):
                raise ConfigError(f"POSTSCHED_NATS_{name.upper()}: no such file {path!r}")
        if bool(options.tls_cert) != bool(options.tls_key):
            raise ConfigError("POSTSCHED_NATS_TLS_CERT and POSTSCHED_NATS_TLS_KEY go together")
        return options


def listen_addr(env: Mapping[str, str], service: str) -> str:
    """POSTSCHED_<SERVICE>_ADDR: host:port to listen on."""
    name = f"POSTSCHED_{service.upper()}_ADDR"
    return _host_port(name, env.get(name, "").strip() or DEFAULT_ADDRS[service], "host:port")


def secret_key(env: Mapping[str, str]) -> bytes:
    """POSTSCHED_SECRET_KEY: a Fernet key (32 random bytes, urlsafe base64)."""
    value = env.get("POSTSCHED_SECRET_KEY", "").strip()
    if not value:
        raise ConfigError(
            "POSTSCHED_SECRET_KEY is not set; make one with: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    try:
        Fernet(value.encode())
    except ValueError:
        raise ConfigError("POSTSCHED_SECRET_KEY must be 32 bytes in urlsafe base64 (a Fernet key)") from None
    return value.encode()


def positive_number(env: Mapping[str, str], name: str, default: float, *, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value


DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)?")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """A positive duration: seconds, or a number with s, m, h or d ("48h", "90m")."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    match = DURATION.fullmatch(raw)
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"{name} must be a positive duration such as 3600, 90m, 48h or 2d, got {raw!r}")
    return timedelta(seconds=float(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"])


def duration_or_off(env: Mapping[str, str], name: str, default: timedelta) -> timedelta | None:
    """A duration as `duration` reads it, or None for "0" or "off" (a duty turned off)."""
    if env.get(name, "").strip().lower() in ("0", "off"):
        return None
    return duration(env, name, default)


def meta_app_token(env: Mapping[str, str]) -> str:
    """POSTSCHED_META_APP_TOKEN: a Meta app access token, `app_id|app_secret` ("" when not set)."""
    value = env.get("POSTSCHED_META_APP_TOKEN", "").strip()
    app_id, sep, secret = value.partition("|")
    if value and (not sep or not app_id.isdigit() or not secret or "|" in secret):
        # The value is a secret: the message never repeats it.
        raise ConfigError("POSTSCHED_META_APP_TOKEN must be an app access token of the form app_id|app_secret")
    return value


@dataclass(frozen=True)
class SchedulerSettings:
    database_url: str
    listen_addr: str
    secret_key: bytes
    api_tokens: TokenConfig
    tls: TLSSettings = TLSSettings()
    # POSTSCHED_OUTBOUND_ALLOW: what tenants' URLs may reach despite the outbound guard (nothing by default).
    outbound: OutboundPolicy = OutboundPolicy()
    # POSTSCHED_TENANT_LIMITS: quotas and request limits per tenant (postsched/limits.py).
    limits: TenantLimits = TenantLimits()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SchedulerSettings":
        env = os.environ if env is None else env
        return cls(
            outbound=OutboundPolicy.from_env(env),
            limits=TenantLimits.from_env(env),
            database_url=database_url(env),
            listen_addr=listen_addr(env, "scheduler"),
            tls=TLSSettings.from_env(env),
            secret_key=secret_key(env),
            api_tokens=tenant_tokens(env),
        )


def seconds_list(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        values = tuple(float(x) for x in raw.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated seconds, e.g. 60,300; got {raw!r}") from None
    if any(v <= 0 for v in values):
        raise ConfigError(f"{name}: every value must be greater than 0, got {raw!r}")
    return values


@dataclass(frozen=True)
class JetStreamSettings:
    """The stream and the publishers' consumer, as the dispatcher and publisher both declare them."""

    replicas: int = 1
    duplicate_window: float = 120.0
    max_deliveries: int = 3
    ack_wait: float = 60.0
    # Off by default: with a BackOff list, nats-server 2.15 did not honour nak(delay) on the second
    # and later deliveries (seen here: the third delivery of a nak'ed message never came), and
    # the publisher's retries rely on nak(delay).
    backoff: tuple[float, ...] = ()
    max_ack_pending: int = 20_000

    @property
    def effective_ack_wait(self) -> float:
        """nats-server uses the first BackOff value as the ack wait when a BackOff list is set."""
        return self.backoff[0] if self.backoff else self.ack_wait

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "JetStreamSettings":
        settings = cls(
            replicas=int(positive_number(env, "POSTSCHED_STREAM_REPLICAS", 1, integer=True)),
            duplicate_window=positive_number(env, "POSTSCHED_DUPLICATE_WINDOW", 120.0),
            max_deliveries=int(positive_number(env, "POSTSCHED_MAX_DELIVERIES", 3, integer=True)),
            ack_wait=positive_number(env, "POSTSCHED_ACK_WAIT", 60.0),
            backoff=seconds_list(env, "POSTSCHED_BACKOFF", ()),
        )
        if settings.replicas not in (1, 3, 5):
            raise ConfigError("POSTSCHED_STREAM_REPLICAS must be 1, 3 or 5")
        # nats-server refuses a BackOff list as long as MaxDeliver (it would never be used whole).
        if len(settings.backoff) >= settings.max_deliveries:
            raise ConfigError(
                f"POSTSCHED_BACKOFF has {len(settings.backoff)} values; it must have fewer than "
                f"POSTSCHED_MAX_DELIVERIES ({settings.max_deliveries})"
            )
        return settings


@dataclass(frozen=True)
class DispatcherSettings:
    database_url: str
    nats_urls: list[str]
    nats: NatsOptions
    listen_addr: str
    operators: TokenConfig
    jetstream: JetStreamSettings
    # Seconds between ticks; each tick leases what falls due before the next one.
    interval: float = 60.0
    # Posts leased per statement.
    batch: int = 500
    # How long after its due time a leased post may wait for its hand-over before any dispatcher's
    # rescuer returns it to SCHEDULED (covers a dispatcher that died holding leases).
    lease_grace: float = 30.0
    # How long a handed-over post may stay QUEUED (unclaimed) before it is dispatched again under a
    # new generation; the old message then finds a stale generation and is dropped.
    handover_timeout: float = 3600.0
    # Signs hand-over messages (broker.HandoverSigner): publishers act only on signed ones.
    secret_key: bytes = b""
    # A post QUEUED this long after JetStream acknowledged its message is checked against the
    # stream; if the message vanished (lost after its ack, purged, stream recreated) the post is
    # handed over again under a new generation.
    lost_message_after: float = 60.0
    tls: TLSSettings = TLSSettings()
    # Occurrences of recurring posts are created this far ahead (POSTSCHED_RECURRENCE_HORIZON).
    recurrence_horizon: timedelta = timedelta(hours=48)
    # An occurrence more than this late (the services were away) is skipped, never published late
    # in a pile (POSTSCHED_MISSED_OCCURRENCE_GRACE).
    missed_occurrence_grace: timedelta = timedelta(hours=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "DispatcherSettings":
        env = os.environ if env is None else env
        return cls(
            database_url=database_url(env),
            nats_urls=nats_urls(env),
            nats=NatsOptions.from_env(env),
            listen_addr=listen_addr(env, "dispatcher"),
            tls=TLSSettings.from_env(env),
            operators=operator_tokens(env),
            jetstream=JetStreamSettings.from_env(env),
            secret_key=secret_key(env),
            interval=positive_number(env, "POSTSCHED_DISPATCH_INTERVAL", 60.0),
            batch=int(positive_number(env, "POSTSCHED_DISPATCH_BATCH", 500, integer=True)),
            lease_grace=positive_number(env, "POSTSCHED_LEASE_GRACE", 30.0),
            handover_timeout=positive_number(env, "POSTSCHED_HANDOVER_TIMEOUT", 3600.0),
            lost_message_after=positive_number(env, "POSTSCHED_LOST_MESSAGE_AFTER", 60.0),
            recurrence_horizon=duration(env, "POSTSCHED_RECURRENCE_HORIZON", timedelta(hours=48)),
            missed_occurrence_grace=duration(env, "POSTSCHED_MISSED_OCCURRENCE_GRACE", timedelta(hours=1)),
        )


GRAPH_VERSION = re.compile(r"v\d{1,3}\.\d{1,2}")


@dataclass(frozen=True)
class PublisherSettings:
    database_url: str
    nats_urls: list[str]
    nats: NatsOptions
    listen_addr: str
    operators: TokenConfig
    secret_key: bytes
    jetstream: JetStreamSettings
    # The Graph API's base without a version, and the version every call uses (one setting: Meta
    # retires each version two years after its release; README "Moving to the next Graph API version").
    meta_graph_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v27.0"
    # Meta's upload host for videos (Reels, video Stories): the upload URL is built from it, the
    # version and the video id, never taken from an answer (that would let an answer aim our token
    # at any host).
    meta_upload_url: str = "https://rupload.facebook.com"
    # Posts handled at once by one publisher process. A real platform answers in 0.2-2 s, so
    # throughput is calls in flight / latency (the README's POSTSCHED_PUBLISH_CONCURRENCY row has
    # the measurement).
    concurrency: int = 1000
    # Attempts of one account calling the platform at once, per publisher process (see account_slots.py).
    account_concurrency: int = 20
    # The hard deadline of one publish attempt (Instagram video processing included): the attempt
    # is cancelled there, its lease is no longer renewed, and the rescuer reconciles it.
    publish_timeout: float = 600.0
    # The publishing lease: a live attempt renews it a few times per lease; a killed or hung
    # publisher's posts are taken over (and the old attempt fenced) about a lease after it stopped.
    publish_lease: float = 30.0
    http_timeout: float = 30.0
    # Exponential back-off between deliveries after a transient error: base * 2^(n-1) * jitter(1..2), capped.
    retry_base: float = 10.0
    retry_max: float = 900.0
    instagram_poll_interval: float = 2.0
    handover_timeout: float = 3600.0
    # Event callbacks: the longest wait between two attempts at one event (1 s doubling up to it).
    event_retry_max: float = 900.0
    # Event callbacks: tenants delivered at once by one publisher (one round each).
    event_concurrency: int = 100
    # The longest wait any platform's answer (Retry-After, Meta's estimate) can impose on an account.
    max_platform_wait: float = 3600.0
    # The credentials-health duty (services/publisher/credentials_health.py): each Meta account's
    # token is checked every credentials_check_period (None: the duty is off) and within the hour
    # before its posts; the duty looks for accounts due a check every credentials_check_tick.
    credentials_check_period: timedelta | None = timedelta(hours=6)
    credentials_check_tick: float = 60.0
    credentials_warning: timedelta = timedelta(days=7)  # account.credentials_expiring this far ahead
    meta_app_token: str = field(default="", repr=False)  # app_id|app_secret: debug_token; never logged
    # How long before its due time a post's media URLs are asked for their type and size (None: never;
    # services/publisher/media_preflight.py).
    media_preflight: timedelta | None = timedelta(minutes=15)
    tls: TLSSettings = TLSSettings()
    outbound: OutboundPolicy = OutboundPolicy()
    limits: TenantLimits = TenantLimits()

    @property
    def graph_base(self) -> str:
        """Where every Graph API call goes: the base URL and the version."""
        return f"{self.meta_graph_url}/{self.meta_graph_version}"

    @property
    def upload_base(self) -> str:
        """Where a video's file is handed to Meta: POST {upload_base}/{video_id}."""
        return f"{self.meta_upload_url}/video-upload/{self.meta_graph_version}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "PublisherSettings":
        env = os.environ if env is None else env
        graph_url = env.get("POSTSCHED_META_GRAPH_URL", "").strip().rstrip("/") or cls.meta_graph_url
        if not graph_url.startswith(("http://", "https://")):
            raise ConfigError(f"POSTSCHED_META_GRAPH_URL must be an http(s) URL, got {graph_url!r}")
        upload_url = env.get("POSTSCHED_META_UPLOAD_URL", "").strip().rstrip("/") or cls.meta_upload_url
        if not upload_url.startswith(("http://", "https://")):
            raise ConfigError(f"POSTSCHED_META_UPLOAD_URL must be an http(s) URL, got {upload_url!r}")
        version = env.get("POSTSCHED_META_GRAPH_VERSION", "").strip() or cls.meta_graph_version
        if not GRAPH_VERSION.fullmatch(version):
            raise ConfigError(f"POSTSCHED_META_GRAPH_VERSION must be a Graph API version such as v27.0, got {version!r}")
        in_url = GRAPH_VERSION.fullmatch(graph_url.rsplit("/", 1)[-1])
        if in_url:
            raise ConfigError(
                f"POSTSCHED_META_GRAPH_URL holds a Graph API version ({in_url.group(0)}): give the base without it "
                f"({graph_url.rsplit('/', 1)[0]}) and the version in POSTSCHED_META_GRAPH_VERSION (default "
                f"{cls.meta_graph_version})")
        settings = cls(
            database_url=database_url(env),
            nats_urls=nats_urls(env),
            nats=NatsOptions.from_env(env),
            listen_addr=listen_addr(env, "publisher"),
            tls=TLSSettings.from_env(env),
            operators=operator_tokens(env),
            secret_key=secret_key(env),
            jetstream=JetStreamSettings.from_env(env),
            meta_graph_url=graph_url,
            meta_graph_version=version,
            meta_upload_url=upload_url,
            concurrency=int(positive_number(env, "POSTSCHED_PUBLISH_CONCURRENCY", 1000, integer=True)),
            account_concurrency=int(positive_number(env, "POSTSCHED_ACCOUNT_CONCURRENCY", 20, integer=True)),
            publish_timeout=positive_number(env, "POSTSCHED_PUBLISH_TIMEOUT", 600.0),
            publish_lease=positive_number(env, "POSTSCHED_PUBLISH_LEASE", 30.0),
            http_timeout=positive_number(env, "POSTSCHED_HTTP_TIMEOUT", 30.0),
            retry_base=positive_number(env, "POSTSCHED_RETRY_BASE", 10.0),
            retry_max=positive_number(env, "POSTSCHED_RETRY_MAX", 900.0),
            instagram_poll_interval=positive_number(env, "POSTSCHED_INSTAGRAM_POLL_INTERVAL", 2.0),
            handover_timeout=positive_number(env, "POSTSCHED_HANDOVER_TIMEOUT", 3600.0),
            event_retry_max=positive_number(env, "POSTSCHED_EVENT_RETRY_MAX", 900.0),
            event_concurrency=int(positive_number(env, "POSTSCHED_EVENT_CONCURRENCY", 100, integer=True)),
            max_platform_wait=positive_number(env, "POSTSCHED_MAX_PLATFORM_WAIT", 3600.0),
            credentials_check_period=duration_or_off(env, "POSTSCHED_CREDENTIALS_CHECK_PERIOD", timedelta(hours=6)),
            credentials_check_tick=positive_number(env, "POSTSCHED_CREDENTIALS_CHECK_TICK", 60.0),
            credentials_warning=duration(env, "POSTSCHED_CREDENTIALS_WARNING", timedelta(days=7)),
            meta_app_token=meta_app_token(env),
            media_preflight=duration_or_off(env, "POSTSCHED_MEDIA_PREFLIGHT", timedelta(minutes=15)),
            outbound=OutboundPolicy.from_env(env),
            limits=TenantLimits.from_env(env),
        )
        if settings.http_timeout >= settings.publish_timeout:
            raise ConfigError("POSTSCHED_HTTP_TIMEOUT must be shorter than POSTSCHED_PUBLISH_TIMEOUT")
        if settings.publish_lease < 1.0:
            raise ConfigError("POSTSCHED_PUBLISH_LEASE must be at least 1 second")
        return settings


@dataclass(frozen=True)
class DashboardSettings:
    """How the dashboard is reached: its address, the host names it answers to, TLS, proxies."""

    addr: str | None = DEFAULT_DASHBOARD_ADDR  # host:port, None: not served
    # POSTSCHED_DASHBOARD_HOSTS: the DNS names a browser may use for it (IP literals and localhost
    # always pass; any other Host header is refused, so a rebound DNS name reaches nothing).
    hosts: tuple[str, ...] = ()
    tls_cert: str = ""  # POSTSCHED_DASHBOARD_TLS_CERT / _KEY: serve HTTPS itself
    tls_key: str = ""
    # POSTSCHED_DASHBOARD_TRUSTED_PROXIES: addresses or networks of a TLS-terminating proxy whose
    # X-Forwarded-For / X-Forwarded-Proto are believed.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "DashboardSettings":
        cert = env.get("POSTSCHED_DASHBOARD_TLS_CERT", "").strip()
        key = env.get("POSTSCHED_DASHBOARD_TLS_KEY", "").strip()
        if bool(cert) != bool(key):
            raise ConfigError("POSTSCHED_DASHBOARD_TLS_CERT and POSTSCHED_DASHBOARD_TLS_KEY go together")
        for name, path in (("POSTSCHED_DASHBOARD_TLS_CERT", cert), ("POSTSCHED_DASHBOARD_TLS_KEY", key)):
            if path and not os.path.isfile(path):
                raise ConfigError(f"{name}: no such file {path!r}")
        hosts = tuple(h.strip().lower() for h in env.get("POSTSCHED_DASHBOARD_HOSTS", "").split(",") if h.strip())
        for host in hosts:
            if not re.fullmatch(r"[a-z0-9.-]{1,253}|\*\.[a-z0-9.-]{1,250}", host):
                raise ConfigError(f"POSTSCHED_DASHBOARD_HOSTS: {host!r} is not a host name (give names without ports, "
                                  "'*.example.com' for every subdomain)")
        proxies = []
        for item in env.get("POSTSCHED_DASHBOARD_TRUSTED_PROXIES", "").split(","):
            if item.strip():
                try:
                    proxies.append(ipaddress.ip_network(item.strip(), strict=False))
                except ValueError:
                    raise ConfigError(f"POSTSCHED_DASHBOARD_TRUSTED_PROXIES: {item.strip()!r} is not an address "
                                      "or network") from None
        return cls(addr=addr_or_off(env, "POSTSCHED_DASHBOARD_ADDR", DEFAULT_DASHBOARD_ADDR), hosts=hosts,
                   tls_cert=cert, tls_key=key, trusted_proxies=tuple(proxies))


@dataclass(frozen=True)
class AdminSettings:
    database_url: str
    nats_urls: list[str]
    nats: NatsOptions
    listen_addr: str
    operators: TokenConfig
    # Published posts older than this are deleted by the hourly clean-up.
    retention_days: float = 30.0
    tls: TLSSettings = TLSSettings()
    # The web dashboard, and a tracing UI to link trace ids to.
    dashboard: DashboardSettings = DashboardSettings()
    # POSTSCHED_SECRET_KEY when given (compose, Kubernetes and `postsched up` give it): the key of the
    # admin's page tokens, the same on every replica. Without it, the operators' tokens at start.
    secret_key: bytes | None = None
    tracing_ui_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AdminSettings":
        env = os.environ if env is None else env
        return cls(
            database_url=database_url(env),
            nats_urls=nats_urls(env),
            nats=NatsOptions.from_env(env),
            listen_addr=listen_addr(env, "admin"),
            tls=TLSSettings.from_env(env),
            operators=operator_tokens(env),
            retention_days=positive_number(env, "POSTSCHED_RETENTION_DAYS", 30.0),
            dashboard=DashboardSettings.from_env(env),
            secret_key=secret_key(env) if env.get("POSTSCHED_SECRET_KEY", "").strip() else None,
            tracing_ui_url=env.get("POSTSCHED_TRACING_UI_URL", "").strip(),
        )
