"""Test infrastructure: real PostgreSQL and NATS servers, fresh databases, services as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Mapping

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from postsched import tls
from postsched.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


class Databases:
    """Makes a fresh, migrated database per test from one migrated template."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"pst_{uuid.uuid4().hex[:8]}"
        self.template = f"{self.prefix}_template"
        self._made: list[str] = []

    def url(self, name: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def create_template(self) -> None:
        from postsched.store.migrate import upgrade

        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.template}"')
        self._made.append(self.template)
        upgrade(self.url(self.template))

    def _create(self, template: str | None) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self._made.append(name)
        return self.url(name)

    def fresh(self) -> str:
        """A migrated database, cloned from the template."""
        return self._create(self.template)

    def empty(self) -> str:
        """A database with no schema at all."""
        return self._create(None)

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in reversed(self._made):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_healthy(addr: str, proc: subprocess.Popen, log_path: Path, env: Mapping[str, str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with tls.channel(addr, env) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"service exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"service on {addr} not healthy in {timeout}s:\n{log_path.read_text()[-3000:]}")


class ServiceProcess:
    """`postsched serve NAME` as a real process on a free port, its log in a file."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.metrics_port = free_port()  # Prometheus /metrics; several replicas may run side by side
        self.dashboard_port = free_port()  # the admin's web dashboard
        self.env = {**os.environ, f"POSTSCHED_{name.upper()}_METRICS_ADDR": f"127.0.0.1:{self.metrics_port}",
                    "POSTSCHED_DASHBOARD_ADDR": f"127.0.0.1:{self.dashboard_port}", **env,
                    f"POSTSCHED_{name.upper()}_ADDR": self.addr}
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServiceProcess":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "postsched.cli", "serve", self.name],
                env=self.env, stdout=log, stderr=log, cwd=ROOT,
            )
        wait_healthy(self.addr, self.proc, self.log_path, self.env)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not stop within {timeout}s of signal {sig}")
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Suite:
    """One test's database, NATS server and postsched services (each a real process)."""

    def __init__(self, database_url: str, nats_url: str, base_env: Mapping[str, str], log_dir: Path) -> None:
        self.database_url = database_url
        self.nats_url = nats_url
        self.base_env = dict(base_env)
        self.log_dir = log_dir
        self.services: list[ServiceProcess] = []

    def start(self, name: str, **env: str) -> ServiceProcess:
        service = ServiceProcess(name, {**self.base_env, **env}, self.log_dir).start()
        self.services.append(service)
        return service

    def stop_all(self) -> None:
        """Signals every running service at once, then waits for each: a stop is mostly waiting
        (in-flight work, telemetry flushed), and the services do not need each other to stop."""
        running = [s for s in reversed(self.services) if s.proc and s.proc.poll() is None]
        for service in running:
            assert service.proc is not None
            service.proc.send_signal(signal.SIGTERM)
        for service in running:
            service.stop()

    def sql(self, query: str, params: tuple | dict | None = None) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def wait_for(self, query: str, expected: object, timeout: float = 30.0, params: tuple | None = None) -> None:
        """Polls `query` (one value) until it equals `expected`."""
        deadline = time.monotonic() + timeout
        value: object = None
        while time.monotonic() < deadline:
            value = self.sql(query, params)[0][0]
            if value == expected:
                return
            time.sleep(0.1)
        raise AssertionError(f"{query!r} is {value!r}, expected {expected!r} within {timeout}s")
