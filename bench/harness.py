"""What the benchmarks share: a whole suite started for one run, and the machine's CPU and memory.

`BenchSuite` starts embedded PostgreSQL and NATS (or uses the URLs given), fake-meta, and the
services as real processes (`postsched serve`, as many dispatchers and publishers as asked), all
from the source tree `source`: pointing it at a checkout of an older commit measures before and
after in one sitting on one machine. Telemetry stays as configured by default (no OTLP endpoint:
nothing exported).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postsched.embedded import EmbeddedNats, EmbeddedPostgres, free_port, wait_for_port  # noqa: E402

TOKEN = "bench-tenant-token-0123456789abcdefgh"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdefghi"


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores, every process) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU time of one process."""
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def children(parent: int) -> list[int]:
    """The pids of a process's direct children."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def peak_rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) / 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def control(base: str, path: str, body: Any = None) -> Any:
    """fake-meta's control API."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


@dataclass
class Process:
    role: str
    proc: subprocess.Popen
    addr: str = ""


@dataclass
class BenchSuite:
    workdir: Path
    source: Path = ROOT
    dispatchers: int = 1
    publishers: int = 2
    database_url: str | None = None
    nats_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    admin: bool = False
    pg_stats: bool = False  # embedded PostgreSQL with pg_stat_statements (see statement_stats)
    processes: list[Process] = field(default_factory=list)

    def __enter__(self) -> "BenchSuite":
        self._postgres: EmbeddedPostgres | None = None
        self._nats: EmbeddedNats | None = None
        self._scratch_database: tuple[str, str] | None = None  # (server URL, name) to drop at the end
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        if self.database_url:
            import psycopg

            name = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self._scratch_database = (self.database_url, name)
            self.database_url = self.database_url.rsplit("/", 1)[0] + "/" + name
        else:
            self._postgres = EmbeddedPostgres(self.workdir / "pgdata").start()
            self.database_url = self._postgres.create_database("postsched")
            if self.pg_stats:
                import psycopg

                with psycopg.connect(self.database_url, autocommit=True) as conn:
                    conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
                    # The statements the triggers run, and the triggers' own time, counted too.
                    conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
                    conn.execute("ALTER SYSTEM SET track_functions = 'pl'")
                self._postgres.stop()
                self._postgres.start()
                with psycopg.connect(self.database_url, autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION pg_stat_statements")
        if not self.nats_url:
            self._nats = EmbeddedNats(self.workdir / "nats").start()
            self.nats_url = self._nats.url
        fake_port = free_port()
        self.fake_meta = f"http://127.0.0.1:{fake_port}"
        self.base_env = {
            **os.environ, "PYTHONPATH": str(self.source),
            "POSTSCHED_DATABASE_URL": self.database_url, "POSTSCHED_NATS_URL": self.nats_url,
            "POSTSCHED_SECRET_KEY": Fernet.generate_key().decode(), "POSTSCHED_API_TOKENS": f"bench:{TOKEN}",
            "POSTSCHED_ADMIN_TOKEN": ADMIN_TOKEN, "POSTSCHED_META_GRAPH_URL": self.fake_meta,
            "POSTSCHED_META_UPLOAD_URL": self.fake_meta,
            # Its webhook receivers (fake-meta's) live on loopback, which the outbound guard forbids.
            "POSTSCHED_OUTBOUND_ALLOW": "127.0.0.1/32", "POSTSCHED_LOG_LEVEL": "info",
            # Benchmarks create posts as fast as the scheduler takes them, past a tenant's default rate.
            "POSTSCHED_TENANT_LIMITS": '{"default": {"requests_per_second": 1000000, "request_burst": 1000000}}',
            **self.env,
        }
        subprocess.run([sys.executable, "-m", "postsched.cli", "migrate"], env=self.base_env, cwd=self.source,
                       check=True, capture_output=True)
        fake = self._spawn("fake-meta", ["fake-meta", "--port", str(fake_port)])
        wait_for_port("127.0.0.1", fake_port, fake.proc, self._log("fake-meta"), timeout=30)
        roles = ["scheduler"] + ["dispatcher"] * self.dispatchers + ["publisher"] * self.publishers
        roles += ["admin"] if self.admin else []
        for role in roles:
            addr = f"127.0.0.1:{free_port()}"
            # Metrics on, as by default, on a port of each replica's own.
            self._spawn(role, ["serve", role], {f"POSTSCHED_{role.upper()}_ADDR": addr,
                                                f"POSTSCHED_{role.upper()}_METRICS_ADDR": f"127.0.0.1:{free_port()}",
                                                "POSTSCHED_DASHBOARD_ADDR": f"127.0.0.1:{free_port()}"}).addr = addr
        for process in self.processes:
            if process.addr:
                self._wait_healthy(process)

    def _log(self, role: str) -> Path:
        return self.workdir / "logs" / f"{role}-{len(self.processes)}.log"

    def _spawn(self, role: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        log = open(self._log(role), "ab")
        proc = subprocess.Popen([sys.executable, "-m", "postsched.cli", *args], env={**self.base_env, **(env or {})},
                                cwd=self.source, stdout=log, stderr=log, start_new_session=True)
        process = Process(role, proc)
        self.processes.append(process)
        return process

    def _wait_healthy(self, process: Process) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.proc.poll() is not None:
                raise RuntimeError(f"{process.role} exited with {process.proc.returncode}")
            check = subprocess.run([sys.executable, "-m", "postsched.cli", "health", process.addr],
                                   env=self.base_env, cwd=self.source, capture_output=True)
            if check.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{process.role} on {process.addr} not healthy within 60 s")

    def addr(self, role: str) -> str:
        return next(p.addr for p in self.processes if p.role == role)

    def pids(self) -> dict[str, int]:
        """Every process of the run by role (dispatcher, publisher#2, …), PostgreSQL and NATS included."""
        out: dict[str, int] = {}
        for process in self.processes:
            key, n = process.role, 2
            while key in out:
                key, n = f"{process.role}#{n}", n + 1
            out[key] = process.proc.pid
        return out

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds so far of every process, and of the embedded PostgreSQL (all its backends)
        and nats-server when this run started them."""
        cpu = {role: process_cpu_seconds(pid) for role, pid in self.pids().items()}
        if self._postgres:
            postmaster = int((self._postgres.data_dir / "postmaster.pid").read_text().split()[0])
            cpu["postgres"] = sum(process_cpu_seconds(pid) for pid in [postmaster, *children(postmaster)])
        if self._nats and self._nats._proc:
            cpu["nats-server"] = process_cpu_seconds(self._nats._proc.pid)
        return cpu

    def statement_stats(self, reset: bool = False, top: int = 40) -> list[dict[str, Any]]:
        """With pg_stats: the statements by total execution time since the last reset."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            if reset:
                conn.execute("SELECT pg_stat_statements_reset()")
                conn.execute("SELECT pg_stat_reset()")  # the function (trigger) counters too
                return []
            rows = conn.execute(
                """SELECT calls, round(total_exec_time::numeric, 1), rows, wal_bytes, toplevel,
                          left(regexp_replace(query, '\s+', ' ', 'g'), 160)
                   FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s""", (top,)).fetchall()
        # toplevel false: run by a trigger or function (its time and WAL are in its caller's too).
        return [{"calls": c, "ms": float(ms), "rows": r, "wal_bytes": int(w), "toplevel": t, "query": q}
                for c, ms, r, w, t, q in rows]

    def function_stats(self) -> list[dict[str, Any]]:
        """With pg_stats: the PL/pgSQL functions (the triggers) by total time since the last reset;
        `self_ms` leaves out the statements they run."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            rows = conn.execute(
                "SELECT funcname, calls, round(total_time::numeric, 1), round(self_time::numeric, 1) "
                "FROM pg_stat_user_functions ORDER BY total_time DESC").fetchall()
        return [{"function": f, "calls": c, "ms": float(t), "self_ms": float(m)} for f, c, t, m in rows]

    def pause(self, paused: bool) -> None:
        """Stops (SIGSTOP) or resumes every postsched process and fake-meta, so a measurement of
        PostgreSQL and NATS alone (the floor) does not count their idle duties."""
        for process in self.processes:
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def peak_rss(self) -> dict[str, float]:
        return {role: round(peak_rss_mib(pid), 1) for role, pid in self.pids().items()}

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.proc.wait(20)
            except subprocess.TimeoutExpired:
                process.proc.kill()
                process.proc.wait()
        if self._nats:
            self._nats.stop()
        if self._scratch_database:
            import psycopg

            url, name = self._scratch_database
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self._postgres:
            self._postgres.stop()


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark that starts a suite takes."""
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="the postsched checkout whose services run (default: this one)")
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on (default: embedded)")
    parser.add_argument("--nats-url", help="a NATS server with JetStream (default: embedded)")


def suite_from(args: argparse.Namespace, **options: Any) -> BenchSuite:
    """A BenchSuite as the command line asks; stopped cleanly on SIGTERM too (timeout, kill)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return BenchSuite(scratch_dir("postsched-bench-"), source=args.source, database_url=args.database_url,
                      nats_url=args.nats_url, **options)


def print_figures(figures: dict[str, Any]) -> None:
    """The benchmark's result: one JSON line, the last line it prints (tests read its shape)."""
    print(json.dumps(figures), flush=True)
