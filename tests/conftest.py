"""Fixtures: real PostgreSQL and NATS (embedded on free ports unless POSTSCHED_TEST_*_URL say otherwise)."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.fernet import Fernet

from postsched.embedded import EmbeddedNats, EmbeddedPostgres
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Databases, ServiceProcess, Suite

TIERS = ("soak", "e2e", "integration", "unit")


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config.option, "numprocesses", None) or 0
    if os.environ.get("POSTSCHED_TEST_NATS_URL") and workers not in (0, "0"):
        # every test deletes and makes the same streams: tests in parallel would break each other's
        raise pytest.UsageError("POSTSCHED_TEST_NATS_URL is one server for every test: run with -n 0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tiers first, so the parallel workers end together instead of waiting for a
    fault suite that started last."""
    def tier(item: pytest.Item) -> int:
        parts = item.path.parts
        return next((TIERS.index(t) for t in TIERS if t in parts), len(TIERS))

    items.sort(key=tier)


@pytest.fixture
def default_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The machine's default postsched ports (8080, 8089, the metrics ports), held by one test at a
    time across the test processes: a lock file in the run's shared temporary directory. (xdist's
    loadgroup would do this, but under pytest 9.2 it no longer groups: pytest-xdist issue 1386.)"""
    lock_path = tmp_path_factory.getbasetemp().parent / "postsched-default-ports.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# Tokens must be at least 32 characters (postsched/auth.py).
TENANT_TOKENS = {"acme": "acme-token-for-the-tests-0123456789", "globex": "globex-token-for-the-tests-0123456789"}
ADMIN_TOKEN = "admin-token-for-the-tests-0123456789"


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("POSTSCHED_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", durable=False).start()
    try:
        yield server.url("postgres")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One NATS server with JetStream per test process: an embedded one, or the one
    POSTSCHED_TEST_NATS_URL names. Tests that stop or restart NATS start their own."""
    external = os.environ.get("POSTSCHED_TEST_NATS_URL")
    if external:
        yield external
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def nats_url(nats_server_url: str) -> str:
    """The process's NATS server with none of postsched's streams (deleted before each test, and
    the publishers' consumer with them)."""
    asyncio.run(_delete_streams(nats_server_url))
    return nats_server_url


async def _delete_streams(url: str) -> None:
    import nats
    import nats.js.errors

    from postsched.broker import ALERTS_STREAM, EVENTS_STREAM, STREAM

    nc = await nats.connect(url)
    try:
        for name in (STREAM, ALERTS_STREAM, EVENTS_STREAM):
            try:
                await nc.jetstream().delete_stream(name)
            except nats.js.errors.NotFoundError:
                pass
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def databases(pg_admin_url: str) -> Iterator[Databases]:
    dbs = Databases(pg_admin_url)
    dbs.create_template()
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture
def database_url(databases: Databases) -> str:
    """A fresh, migrated database for one test."""
    return databases.fresh()


@pytest.fixture(scope="session")
def secret_key() -> str:
    return Fernet.generate_key().decode()


def service_env(database_url: str, secret_key: str, nats_url: str | None = None) -> dict[str, str]:
    env = {
        "POSTSCHED_DATABASE_URL": database_url,
        "POSTSCHED_SECRET_KEY": secret_key,
        "POSTSCHED_API_TOKENS": ",".join(f"{t}:{tok}" for t, tok in TENANT_TOKENS.items()),
        "POSTSCHED_ADMIN_TOKEN": ADMIN_TOKEN,
        "POSTSCHED_LOG_LEVEL": "debug",
        # fake-meta's webhook receivers and the tests' own listen on 127.0.0.1; the outbound guard's
        # tests start their services with other allowances (tests/e2e/test_outbound_e2e.py).
        "POSTSCHED_OUTBOUND_ALLOW": "127.0.0.1/32",
        # The background checks of issue 25 call fake-meta and every media URL on their own; tests
        # that count calls or events would see them. Off here, on in production; the tests of each
        # (test_credentials_health_e2e.py, test_media_preflight_e2e.py) turn it on.
        "POSTSCHED_CREDENTIALS_CHECK_PERIOD": "0",
        "POSTSCHED_MEDIA_PREFLIGHT": "0",
    }
    if nats_url:
        env["POSTSCHED_NATS_URL"] = nats_url
    return env


@pytest.fixture(scope="module")
def scheduler(databases: Databases, secret_key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """`postsched serve scheduler` as a real process, on its own database, for a test module."""
    url = databases.fresh()
    service = ServiceProcess("scheduler", service_env(url, secret_key), tmp_path_factory.mktemp("logs"))
    service.database_url = url  # type: ignore[attr-defined]
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def suite(database_url: str, nats_url: str, secret_key: str, tmp_path: Path) -> Iterator[Suite]:
    """A fresh database and NATS for one test; start services with suite.start(name, VAR=value)."""
    running = Suite(database_url, nats_url, service_env(database_url, secret_key, nats_url), tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def fake_meta(tmp_path: Path) -> Iterator[FakeMeta]:
    server = FakeMeta(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
