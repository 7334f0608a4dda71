"""The `postsched` command: up, serve SERVICE, migrate."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from pathlib import Path
from typing import Any, Callable

from postsched.errors import ConfigError, PostschedError

# Each service's module under services/, with `Settings` and `serve(settings)`.
SERVICES = {
    "scheduler": ("services.scheduler.main", "postsched.settings:SchedulerSettings"),
    "dispatcher": ("services.dispatcher.main", "postsched.settings:DispatcherSettings"),
    "publisher": ("services.publisher.main", "postsched.settings:PublisherSettings"),
    "admin": ("services.admin.main", "postsched.settings:AdminSettings"),
}


def _settings_class(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(service: str) -> int:
    from postsched import logging_setup

    from postsched import telemetry

    module_name, settings_path = SERVICES[service]
    logging_setup.configure(service)
    settings = _settings_class(settings_path).from_env()
    from postsched.settings import metrics_addr

    telemetry.setup(service, metrics_addr=metrics_addr(os.environ, service))
    module = importlib.import_module(module_name)
    raise_open_files_limit()
    tune_gc()
    loop_factory = event_loop_factory()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(module.serve(settings))
    finally:
        telemetry.shutdown()
    return 0


GC_THRESHOLD = "50000,20,10"  # gen 0, 1, 2; Python's default is 700,10,10 (see tune_gc)


def raise_open_files_limit() -> None:
    """The soft open-files limit up to the hard one (at most 65,536): a publisher keeps one HTTP
    connection per post in flight (POSTSCHED_PUBLISH_CONCURRENCY, 1,000 by default), and a soft
    limit of 1,024, common on Linux, would turn the rest into connection errors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def tune_gc() -> None:
    """Fewer, cheaper cyclic garbage collections, set once everything is imported.

    A profile of the 20,000-post burst (perf, whole machine) found the services' Python spending
    about a sixth of its time in the cycle collector: every post makes thousands of short-lived
    container objects (tasks, futures, dicts, rows), so with the default gen-0 threshold of 700 the
    collector ran every few posts, and each full collection walked every module, class and
    protobuf descriptor loaded at start. Frozen, those are never scanned again; a higher gen-0
    threshold makes collections rarer (garbage in cycles lives a little longer: memory is still
    bounded, see peak RSS in bench/end_to_end.py). POSTSCHED_GC_THRESHOLD overrides the thresholds
    ("700,10,10" is Python's default).
    """
    import gc

    raw = os.environ.get("POSTSCHED_GC_THRESHOLD", "").strip() or GC_THRESHOLD
    try:
        thresholds = [int(part) for part in raw.split(",")]
        if len(thresholds) != 3 or min(thresholds) < 1:
            raise ValueError
    except ValueError:
        raise ConfigError(f"POSTSCHED_GC_THRESHOLD must be three positive integers like {GC_THRESHOLD!r}, "
                          f"not {raw!r}") from None
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """POSTSCHED_EVENT_LOOP: uvloop (the default; about a tenth less CPU per post in the services,
    bench/end_to_end.py) or asyncio (the standard library's loop)."""
    choice = os.environ.get("POSTSCHED_EVENT_LOOP", "uvloop").strip() or "uvloop"
    if choice == "asyncio":
        return None
    if choice != "uvloop":
        raise ConfigError(f"POSTSCHED_EVENT_LOOP must be uvloop or asyncio, not {choice!r}")
    import uvloop

    return uvloop.new_event_loop


def migrate() -> int:
    from postsched.settings import database_url
    from postsched.store.migrate import upgrade

    upgrade(database_url(os.environ))
    print("database schema is up to date", file=sys.stderr)
    return 0


def health(addr: str, service: str) -> int:
    """Exit 0 if the gRPC health service at addr says SERVING (for container health checks)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from postsched import tls

    with tls.channel(addr, os.environ) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=3)
        except grpc.RpcError as exc:
            print(f"postsched: {addr}: {exc.code().name}", file=sys.stderr)
            return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print(f"{addr}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")
    return 0 if serving else 1


def nats_user(tenant: str, state_dir: Path | None) -> int:
    """Makes a NATS user for a tenant that reads its events over NATS: prints the server
    configuration entry (limited to postsched.events.<its token>.>) and how the tenant connects;
    with --state-dir, adds it to `postsched up`'s embedded server (from its next start)."""
    from postsched.broker import tenant_token
    from postsched.nats_auth import authorization_block, new_password
    from postsched.auth import TENANT_ID

    if not TENANT_ID.fullmatch(tenant):
        raise ConfigError(f"{tenant!r} is not a tenant id: letters, digits, '-', '_', '.', at most 64")
    password = new_password()
    if state_dir is not None:
        from postsched.suite import add_nats_tenant

        add_nats_tenant(state_dir.resolve(), tenant, password)
        print(f"# added to {state_dir / 'nats-users.json'}: restart `postsched up` to serve it")
    entry = authorization_block({}, {tenant: password}).splitlines()[-3]
    print("# the user, for the users list of nats-server's authorization block:")
    print(entry.strip())
    print(f"# the tenant subscribes with: nats sub --user tenant-{tenant} --password {password} "
          f"'postsched.events.{tenant_token(tenant)}.>'")
    return 0


def nats_config() -> int:
    """Prints the authorization block of a NATS server for postsched: a user per service role with
    its permissions, each password read by nats-server from POSTSCHED_NATS_<ROLE>_PASSWORD."""
    from postsched.nats_auth import authorization_block

    print(authorization_block(), end="")
    return 0


# What each service needs before it starts (every other setting has a default; README, "Configuration").
SERVE_VARIABLES = """variables it reads before anything else (the service stops with one line naming what is missing):
  POSTSCHED_DATABASE_URL        every service
  POSTSCHED_NATS_URL            dispatcher, publisher, admin (or POSTSCHED_NATS_CREDS / _USER / _PASSWORD to log in)
  POSTSCHED_API_TOKENS          scheduler: tenant:token,... (or POSTSCHED_API_TOKENS_FILE)
  POSTSCHED_ADMIN_TOKEN         dispatcher, publisher, admin (or POSTSCHED_ADMIN_TOKENS / _TOKENS_FILE)
  POSTSCHED_SECRET_KEY          scheduler, dispatcher, publisher (a Fernet key: the same on every replica)
  POSTSCHED_<SERVICE>_ADDR      where it listens (defaults: scheduler :50051, dispatcher :50052,
                                publisher :50053, admin :50054)
every other POSTSCHED_* setting has a default: see the README's "Configuration"."""

UP_EPILOG = """it reads POSTSCHED_DATABASE_URL and POSTSCHED_NATS_URL (embedded servers when unset),
POSTSCHED_META_GRAPH_URL (a local fake-meta when unset, on POSTSCHED_FAKE_META_PORT or 8089), the
POSTSCHED_<SERVICE>_ADDR ports and every setting `serve` reads; tokens and the key are made at random on
the first start and kept in the state directory (`postsched token` prints them)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postsched", description="Schedules social-media posts and publishes them on time, once.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, epilog: str | None = None) -> argparse.ArgumentParser:
        # The summary is both the line in `postsched --help` and the description of `postsched NAME --help`.
        return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                                   epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)

    up = command("up", "run the whole suite on this machine (embedded PostgreSQL and NATS unless URLs are set)", UP_EPILOG)
    up.add_argument("--state-dir", type=Path, default=Path(".postsched"), help="where data, keys and logs are kept (default ./.postsched)")
    serve_cmd = command("serve", "run one service, configured by POSTSCHED_* variables", SERVE_VARIABLES)
    serve_cmd.add_argument("service", choices=sorted(SERVICES))
    command("migrate", "bring the schema of POSTSCHED_DATABASE_URL to the latest version",
            "reads POSTSCHED_DATABASE_URL; safe to run again, and from several replicas at once")
    fake = command("fake-meta", "run a local stand-in for the Meta Graph API (demos and tests)",
                   "control API: /_control/posts, /_control/calls, /_control/faults, /_control/settings; "
                   "webhook receivers: /_webhooks/NAME")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8089)
    fake.add_argument("--state", type=Path, help="a file to keep what it published in, so ids and webhook "
                      "deliveries survive a restart (`postsched up` keeps it in its state directory)")
    check = command("health", "check a service's gRPC health (exit 0 when SERVING)",
                    "reads POSTSCHED_TLS_CA (and _CERT/_KEY) when the service serves TLS")
    check.add_argument("addr", help="host:port")
    check.add_argument("--service", default="", help="a service name; empty = the whole server")
    user = command("nats-user", "make a NATS user for a tenant that reads its events over NATS")
    user.add_argument("tenant")
    user.add_argument("--state-dir", type=Path, help="also add it to `postsched up`'s embedded NATS (its state directory)")
    command("nats-config", "print the NATS authorization block (a user per service role)",
            "nats-server reads each password from POSTSCHED_NATS_<ROLE>_PASSWORD (DISPATCHER, PUBLISHER, ADMIN)")
    logs = command("logs", "print one post's log lines from every service of a `postsched up` run, in time order",
                   "the lines that name the post and those of its trace (every post has a trace id, traced or not)")
    logs.add_argument("post_id")
    logs.add_argument("--state-dir", type=Path, default=Path(".postsched"), help="`postsched up`'s state directory (default ./.postsched)")
    token = command("token", "print the tenant token `postsched up` uses (--admin: the operators' token)",
                    "POSTSCHED_API_TOKENS / POSTSCHED_ADMIN_TOKEN in the environment win over the state directory's")
    token.add_argument("--admin", action="store_true", help="the operators' token instead")
    token.add_argument("--state-dir", type=Path, default=Path(".postsched"), help="`postsched up`'s state directory (default ./.postsched)")
    imp = command("import", "create a tenant's posts from a CSV or JSON Lines file, checked line by line first",
                  "columns: account (id or platform:external_id), text, media_urls, link, scheduled_at, time_zone,\n"
                  "idempotency_key, kind, first_comment; re-running is safe (docs/import.md); TLS from POSTSCHED_TLS_CA (and _CERT/_KEY)")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="check every line and report errors; send nothing")
    imp.add_argument("--report", help="where rejected lines go (default FILE's name with .rejected.csv|.jsonl)")
    exp = command("export", "write a tenant's posts scheduled in a range, as CSV or JSON Lines that import reads back",
                  "--from and --until are ISO 8601 times with an offset; TLS from POSTSCHED_TLS_CA (and _CERT/_KEY)")
    exp.add_argument("--from", dest="since", required=True, help="scheduled_at at or after this")
    exp.add_argument("--until", required=True, help="scheduled_at before this")
    exp.add_argument("--account", help="one account's posts (its id)")
    exp.add_argument("--status", help="one status (SCHEDULED, PUBLISHED, ...)")
    exp.add_argument("--output", help="a file (default standard output)")
    for bulk in (imp, exp):
        bulk.add_argument("--format", choices=("csv", "jsonl"), default=None if bulk is imp else "csv",
                          help="default: the file's extension" if bulk is imp else "default csv")
        bulk.add_argument("--address", default="localhost:50051", help="the scheduler (default localhost:50051)")
        bulk.add_argument("--token", help="the tenant's token (default $POSTSCHED_TOKEN)")
    return parser


def fake_meta(host: str, port: int, state: Path | None = None) -> int:
    try:  # a development tool: installed by `pip install -e .`, left out of the production image
        from postsched_devtools.fake_meta.server import serve as serve_fake_meta
    except ModuleNotFoundError:
        print("postsched: fake-meta is a development tool, not installed here (the production image leaves it out;"
              " docker compose builds it from the Dockerfile's devtools stage)", file=sys.stderr)
        return 2
    asyncio.run(serve_fake_meta(host, port, state))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args.service)
        if args.command == "migrate":
            return migrate()
        if args.command == "health":
            return health(args.addr, args.service)
        if args.command == "fake-meta":
            return fake_meta(args.host, args.port, args.state)
        if args.command == "nats-user":
            return nats_user(args.tenant, args.state_dir)
        if args.command == "nats-config":
            return nats_config()
        if args.command == "token":
            from postsched.suite import suite_tokens

            tenant_token, admin_token = suite_tokens(args.state_dir, dict(os.environ))
            print(admin_token if args.admin else tenant_token)
            return 0
        if args.command in ("import", "export"):
            from postsched import bulk_export, bulk_import

            return bulk_import.command(args) if args.command == "import" else bulk_export.command(args)
        if args.command == "logs":
            from postsched import post_logs

            return post_logs.show(args.state_dir, args.post_id)
        if args.command == "up":
            from postsched.suite import run_suite

            return run_suite(args.state_dir, list(SERVICES))
    except ConfigError as exc:
        print(f"postsched: {exc}", file=sys.stderr)
        return 2
    except PostschedError as exc:
        print(f"postsched: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
