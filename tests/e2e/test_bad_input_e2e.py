"""Bad input on every method of every service gets a canonical answer and changes nothing.

The four services, fake-meta, PostgreSQL and NATS run as real processes for the whole module.
`test_generated_bad_input_on_every_method` walks every method by reflection (tests/bad_input.py);
the other tests pin each defect that generator found, so each has a test that failed before its fix.

POSTSCHED_FUZZ_SEED picks the seed (printed with every failure) and POSTSCHED_FUZZ_GARBAGE how
many random bodies each method gets (default 40); a long run:
    POSTSCHED_FUZZ_SEED=7 POSTSCHED_FUZZ_GARBAGE=300 .venv/bin/python -m pytest tests/e2e/test_bad_input_e2e.py
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from postsched.embedded import EmbeddedNats, free_port
from postsched.v1 import admin_pb2, admin_pb2_grpc, resources_pb2, scheduler_pb2
from tests import bad_input
from postsched_devtools.tenant import Tenant, field_violations
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS, _delete_streams, service_env
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Databases, ServiceProcess, Suite

pytestmark = pytest.mark.e2e
SEED = int(os.environ.get("POSTSCHED_FUZZ_SEED", "20261201"))
GARBAGE = int(os.environ.get("POSTSCHED_FUZZ_GARBAGE", "40"))
ADMIN = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
ACME = (("authorization", f"Bearer {TENANT_TOKENS['acme']}"),)
SERVICES = {
    "scheduler": "postsched.v1.SchedulerService",
    "dispatcher": "postsched.v1.DispatcherService",
    "publisher": "postsched.v1.PublisherService",
    "admin": "postsched.v1.AdminService",
}
FAILING_PAGE = "5550001"


@dataclass
class World:
    suite: Suite
    processes: dict[str, ServiceProcess]
    acme: Tenant
    admin: admin_pb2_grpc.AdminServiceStub
    account_id: str
    post_id: str
    victim_account_id: str  # the one DeleteAccount's valid request deletes
    foreign_account_id: str
    foreign_post_id: str
    recurring_post_id: str
    foreign_recurring_post_id: str
    slotted_account_id: str

    def channel(self, service: str) -> grpc.Channel:
        return grpc.insecure_channel(self.processes[service].addr)


@pytest.fixture(scope="module")
def world(databases: Databases, secret_key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    logs = tmp_path_factory.mktemp("bad-input")
    external = os.environ.get("POSTSCHED_TEST_NATS_URL")
    nats = None
    if external:
        import asyncio

        asyncio.run(_delete_streams(external))
        nats_url = external
    else:
        nats = EmbeddedNats(Path(logs) / "nats").start()
        nats_url = nats.url
    fake = FakeMeta(logs).start()
    database_url = databases.fresh()
    suite = Suite(database_url, nats_url, service_env(database_url, secret_key, nats_url), logs)
    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake.graph_url
    try:
        processes = {name: suite.start(name) for name in SERVICES}
        acme = Tenant(processes["scheduler"].addr, TENANT_TOKENS["acme"])
        globex = Tenant(processes["scheduler"].addr, TENANT_TOKENS["globex"])
        # The base account's feed refuses every post (code 100), so failed posts exist to page through.
        fake.fault(kind="error", account=FAILING_PAGE, endpoint="feed", times=0, http_status=400, code=100)
        account = acme.page_account(FAILING_PAGE)
        # An event webhook nobody listens on: its failed attempts give ListEventDeliveries rows.
        acme.SetEventWebhook(scheduler_pb2.SetEventWebhookRequest(url=f"http://127.0.0.1:{free_port()}/x", secret="s" * 20))
        acme.page_account("5550003")  # a second page, so ListAccounts has a next page
        victim = acme.page_account("5550077")
        slotted = acme.page_account("5550004")
        acme.SetPostingSchedule(scheduler_pb2.SetPostingScheduleRequest(account_id=slotted.account_id, slots=[
            resources_pb2.PostingSlot(day_of_week=day, time="09:00") for day in range(1, 8)]))
        for i in range(3):
            acme.CreatePost(scheduler_pb2.CreatePostRequest(account_id=account.account_id, text=f"due {i}"))
        far = scheduler_pb2.CreatePostRequest(account_id=account.account_id, text="far ahead")
        far.scheduled_at.FromDatetime(datetime.now(timezone.utc) + timedelta(days=300))
        post = acme.CreatePost(far)
        far.scheduled_at.FromDatetime(datetime.now(timezone.utc) + timedelta(days=301))
        acme.ReschedulePost(scheduler_pb2.ReschedulePostRequest(post_id=post.post_id, scheduled_at=far.scheduled_at))
        foreign_account = globex.page_account("5550002")
        foreign = globex.CreatePost(scheduler_pb2.CreatePostRequest(account_id=foreign_account.account_id, text="theirs"))
        recurring = [acme.CreateRecurringPost(scheduler_pb2.CreateRecurringPostRequest(  # two, to page through
            account_id=account.account_id, text="weekly", start_time="2027-01-04T09:00:00",
            recurrence=["RRULE:FREQ=WEEKLY"])) for _ in range(2)]
        suite.wait_for("SELECT count(*) FROM posts WHERE status = 'FAILED'", 3)
        suite.wait_for("SELECT count(*) >= 2 FROM event_deliveries", True)
        admin = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(processes["admin"].addr))
        yield World(suite, processes, acme, admin, account.account_id, post.post_id, victim.account_id,
                    foreign_account.account_id, foreign.post_id, recurring[0].recurring_post_id,
                    globex.CreateRecurringPost(scheduler_pb2.CreateRecurringPostRequest(
                        account_id=foreign_account.account_id, text="theirs", start_time="2027-01-04T09:00:00",
                        recurrence=["RRULE:FREQ=WEEKLY"])).recurring_post_id, slotted.account_id)
    finally:
        suite.stop_all()
        fake.stop()
        if nats:
            nats.stop()


FINGERPRINT = """
SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM accounts),
  (SELECT md5(coalesce(string_agg(concat_ws('|', id, tenant_id, platform, external_id, display_name,
          md5(credentials), paused, needs_credentials), ',' ORDER BY id), '')) FROM accounts),
  (SELECT md5(coalesce(string_agg(concat_ws('|', id, status, text, array_to_string(media_urls, ' '), link,
          scheduled_at, idempotency_key, attempts), ',' ORDER BY id), ''))
     FROM posts WHERE scheduled_at > now() + interval '1 day')
"""


def fingerprint(conn: psycopg.Connection) -> tuple:
    """What a refused request must not change: every account, and every post the background
    (dispatcher, publisher) leaves alone: those more than a day ahead. Counts cover the rest."""
    return conn.execute(FINGERPRINT).fetchone()  # type: ignore[return-value]


def _valid_values(world: World) -> dict[str, object]:
    now = datetime.now(timezone.utc)
    return {
        "account_id": world.account_id, "post_id": world.post_id, "tenant_id": "acme",
        "text": "hello", "media_urls": ["https://cdn.example.com/a.jpg"], "link": "https://example.com/x",
        "scheduled_at": int((now + timedelta(days=200)).timestamp()), "idempotency_key": None,
        "platform": resources_pb2.FACEBOOK_PAGE, "external_id": "5550009", "display_name": "fuzz",
        "access_token": "EAAB-fuzz", "webhook_url": None, "webhook_secret": None,
        "page_size": 1, "page_token": None, "status": None, "event": None,
        "since": int((now - timedelta(days=1)).timestamp()), "until": int((now + timedelta(days=1)).timestamp()),
        "older_than": int(datetime(2000, 1, 1, tzinfo=timezone.utc).timestamp()), "requests": True,
        "after_sequence": 0, "types": ["post.failed", "post.rescheduled"],
        "url": "https://hooks.example.com/events", "secret": "s" * 24,
        "scheduled_from": int((now - timedelta(days=1)).timestamp()),
        "scheduled_until": int((now + timedelta(days=400)).timestamp()),
        "recurring_post_id": world.recurring_post_id, "start_time": "2027-01-01T09:00:00", "time_zone": "Europe/Berlin",
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"], "update_mask": ["text"], "min_post_interval": 60,
        "kind": resources_pb2.FEED, "reel": None, "first_comment": "first!",
        "slots": True, "day_of_week": 1, "time": "09:00", "reshuffle": False, "post": True,
        "not_before": int((now + timedelta(days=1)).timestamp()), "count": 3,
    }


# ListPosts' base request lists every post, not one recurring post's occurrences (none yet);
# EnqueuePost's post has no scheduled_at (the slot is its time), on an account whose schedule
# SetPostingSchedule's cases leave alone.
PER_METHOD: dict[str, dict[str, object]] = {"ListPosts": {"recurring_post_id": None}}


def _issued_tokens(world: World, valid: dict[str, object], methods: list[bad_input.Method]) -> dict[str, str]:
    """A real next_page_token of every List method, for the base request of that method."""
    generator = bad_input.Generator(valid, {}, {}, SEED, PER_METHOD)
    tokens = {}
    for method in methods:
        if "page_token" not in method.input.fields_by_name:
            continue
        service = "admin" if "Admin" in method.service else "scheduler"
        response_bytes = world.channel(service).unary_unary(method.path)(
            generator.base(method.input, method.name).SerializeToString(), metadata=ADMIN if service == "admin" else ACME, timeout=30
        )
        token = _next_page_token(response_bytes, method)
        assert token, f"{method.label} gave no next_page_token for its base request: the test needs more rows"
        tokens[method.name] = token
    return tokens


def _next_page_token(response: bytes, method: bad_input.Method) -> str:
    return bad_input.message_class(method.output).FromString(response).next_page_token


def test_generated_bad_input_on_every_method(world: World) -> None:
    methods: list[bad_input.Method] = []
    for service, name in SERVICES.items():
        found, _ = bad_input.discover(world.channel(service), [name])
        methods.extend(found)
    assert len(methods) == 42, [m.label for m in methods]
    valid = _valid_values(world)
    tokens = _issued_tokens(world, valid, methods)
    foreign = {"account_id": world.foreign_account_id, "post_id": world.foreign_post_id,
               "recurring_post_id": world.foreign_recurring_post_id}
    # Operators see every tenant: another tenant's id is a refusal only on the scheduler.
    victim = {"DeleteAccount": {"account_id": world.victim_account_id}, **PER_METHOD,
              "EnqueuePost": {"scheduled_at": None, "account_id": world.slotted_account_id}}
    generators = {"scheduler": bad_input.Generator(valid, foreign, tokens, SEED, victim),
                  "operations": bad_input.Generator(valid, {}, tokens, SEED, PER_METHOD)}
    wrong = {
        "scheduler": [("none", ()), ("wrong", (("authorization", "Bearer nope"),)),
                      ("scheme", (("authorization", "Basic dG9rLWFjbWU="),)), ("operators", ADMIN),
                      ("huge", (("authorization", "Bearer " + "x" * 20_000),))],
        "operations": [("none", ()), ("wrong", (("authorization", "Bearer nope"),)), ("tenant", ACME),
                       ("huge", (("authorization", "Bearer " + "x" * 20_000),))],
    }
    channels = {service: world.channel(service) for service in SERVICES}
    service_of = {name: service for service, name in SERVICES.items()}
    failures: list[str] = []
    codes: Counter[tuple[str, str]] = Counter()
    total = 0
    started = time.monotonic()
    with psycopg.connect(world.suite.database_url, autocommit=True) as conn:
        before = fingerprint(conn)
        for method in methods:
            service = service_of[method.service]
            metadata = ACME if service == "scheduler" else ADMIN
            kind = "scheduler" if service == "scheduler" else "operations"
            for case in generators[kind].cases(method, wrong[kind], GARBAGE):
                total += 1
                answer = bad_input.call(channels[service], case, metadata)
                codes[(method.label, answer.code.name)] += 1
                problems = bad_input.judge(case, answer)
                after = fingerprint(conn)
                if answer.code != grpc.StatusCode.OK and after != before:
                    problems.append("a refused request changed state")
                before = after
                failures.extend(f"{method.label} {case.family}: {p}" for p in problems)
    elapsed = time.monotonic() - started
    print(f"\nbad-input: {total} cases over {len(methods)} methods in {elapsed:.1f}s, seed {SEED}")
    for method in methods:
        mine = {code: n for (label, code), n in codes.items() if label == method.label}
        print(f"  {method.label}: {dict(sorted(mine.items()))}")
    assert not failures, f"seed {SEED}: {len(failures)} bad answers:\n" + "\n".join(failures[:60])
    for method in methods:
        assert codes[(method.label, "INVALID_ARGUMENT")] > 0, f"{method.label} never refused bad input"
    assert total >= 2000
    _assert_all_serving(world)
    for name, process in world.processes.items():
        # Nothing the generator sent made a service fail later either (a post of year 1, a
        # 200,000-character text, a retry storm): no traceback in any service's log.
        assert "Traceback" not in process.log(), f"{name} logged a traceback"


def _assert_all_serving(world: World) -> None:
    for service in SERVICES:
        stub = health_pb2_grpc.HealthStub(world.channel(service))
        assert stub.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING


# --- one test per defect the generator found ----------------------------------------------------


def _raw(world: World, service: str, path: str, body: bytes, metadata: tuple) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        world.channel(service).unary_unary(path)(body, metadata=metadata, timeout=30)
    return caught.value


def test_undecodable_bodies_are_invalid_argument_naming_the_request_type(world: World) -> None:
    # Before: grpc.aio answered UNKNOWN "Unexpected <class 'google.protobuf.message.DecodeError'>".
    cases = [
        ("scheduler", "/postsched.v1.SchedulerService/GetPost", ACME, "postsched.v1.GetPostRequest"),
        ("admin", "/postsched.v1.AdminService/RetryPost", ADMIN, "postsched.v1.RetryPostRequest"),
        ("dispatcher", "/postsched.v1.DispatcherService/DispatchNow", ADMIN, "postsched.v1.DispatchNowRequest"),
        ("publisher", "/postsched.v1.PublisherService/GetPublisherStatus", ADMIN, "postsched.v1.GetPublisherStatusRequest"),
    ]
    for service, path, metadata, type_name in cases:
        for body in (b"\x0a\xff\xff\xff\x0f", b"\x0a\x04\xff\xfe\xc3("):  # past the end; not UTF-8 (field 1)
            if not path.endswith(("GetPost", "RetryPost")) and body.startswith(b"\x0a\x04"):
                continue  # no string field 1 there: that body is just an unknown field
            error = _raw(world, service, path, body, metadata)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (path, error.details())
            assert type_name in error.details() and "<class" not in error.details()
            assert "request" in field_violations(error)
    # Health probes need no token, and get the same answer to a corrupt request.
    error = _raw(world, "admin", "/grpc.health.v1.Health/Check", b"\x0a\xff\xff", ())
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_out_of_range_times_in_admin_log_filters(world: World) -> None:
    # Before: ToDatetime raised ValueError in the handler, answered INTERNAL.
    for field in ("since", "until"):
        request = admin_pb2.ListProcessingLogsRequest()
        getattr(request, field).seconds = 253_402_300_800  # year 10000
        with pytest.raises(grpc.RpcError) as caught:
            world.admin.ListProcessingLogs(request, metadata=ADMIN, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(caught.value)
        getattr(request, field).seconds, getattr(request, field).nanos = 0, -1
        with pytest.raises(grpc.RpcError) as caught:
            world.admin.ListProcessingLogs(request, metadata=ADMIN, timeout=30)
        assert field in field_violations(caught.value)


def test_nul_in_filters_that_reach_sql(world: World) -> None:
    # Before: PostgreSQL refused the NUL and the driver's error became INTERNAL.
    calls = [
        (world.admin.GetQueueStats, admin_pb2.GetQueueStatsRequest(tenant_id="ac\x00me"), "tenant_id"),
        (world.admin.ListFailedPosts, admin_pb2.ListFailedPostsRequest(tenant_id="\x00"), "tenant_id"),
        (world.admin.RetryFailed, admin_pb2.RetryFailedRequest(tenant_id="a\x00"), "tenant_id"),
        (world.admin.ListProcessingLogs, admin_pb2.ListProcessingLogsRequest(event="created\x00"), "event"),
    ]
    for method, request, field in calls:
        with pytest.raises(grpc.RpcError) as caught:
            method(request, metadata=ADMIN, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(caught.value)
    with pytest.raises(grpc.RpcError) as caught:
        world.acme.CreateAccount(scheduler_pb2.CreateAccountRequest(
            platform=resources_pb2.WEBHOOK, external_id="hook", webhook_url="https://e.com/in",
            webhook_secret="s" * 20 + "\x00",
        ))
    assert "webhook_secret" in field_violations(caught.value)


def test_page_tokens_are_signed_and_bound_to_caller_and_filters(world: World) -> None:
    # Before: a log token was any integer (40 digits overflowed PostgreSQL's bigint: INTERNAL), and
    # any base64 JSON was a posts token, for any tenant and any filter.
    with pytest.raises(grpc.RpcError) as caught:
        world.admin.ListProcessingLogs(admin_pb2.ListProcessingLogsRequest(page_token="9" * 40), metadata=ADMIN, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details() == "invalid page_token"
    mine = world.acme.ListPosts(scheduler_pb2.ListPostsRequest(page_size=1, account_id=world.account_id))
    assert mine.next_page_token
    rest = world.acme.ListPosts(scheduler_pb2.ListPostsRequest(page_size=1, account_id=world.account_id,
                                                               page_token=mine.next_page_token))
    assert rest.posts[0].post_id != mine.posts[0].post_id
    globex = Tenant(world.processes["scheduler"].addr, TENANT_TOKENS["globex"])
    globex.page_account("5550004")
    globex.page_account("5550005")
    accounts = world.acme.ListAccounts(scheduler_pb2.ListAccountsRequest(page_size=1))
    assert accounts.next_page_token
    misuses = [
        # Another tenant, the same method and filters: refused because of who asks.
        (globex.ListAccounts, scheduler_pb2.ListAccountsRequest(page_size=1, page_token=accounts.next_page_token)),
        (world.acme.ListPosts, scheduler_pb2.ListPostsRequest(page_size=1, page_token=mine.next_page_token)),
        (world.acme.ListPosts, scheduler_pb2.ListPostsRequest(page_size=1, status=resources_pb2.FAILED,
                                                              account_id=world.account_id, page_token=mine.next_page_token)),
        (world.acme.ListAccounts, scheduler_pb2.ListAccountsRequest(page_size=1, page_token=mine.next_page_token)),
        (world.acme.ListPosts, scheduler_pb2.ListPostsRequest(account_id=world.account_id, page_token=mine.next_page_token[:-3])),
    ]
    for method, request in misuses:
        with pytest.raises(grpc.RpcError) as caught:
            method(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert "page_token" in field_violations(caught.value)


def test_error_details_stay_small_however_many_items_are_wrong(world: World) -> None:
    # Before: 1,000 empty posts gave 1,000 violations, about 60 KiB of trailing metadata, which a
    # default client refuses to receive (it saw a transport error instead of the answer).
    batch = scheduler_pb2.BatchCreatePostsRequest(requests=[scheduler_pb2.CreatePostRequest() for _ in range(1000)])
    with pytest.raises(grpc.RpcError) as caught:
        world.acme.BatchCreatePosts(batch)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(caught.value.trailing_metadata())["grpc-status-details-bin"]
    assert len(details) < 4096
    violations = field_violations(caught.value)
    assert len(violations) == 21 and "1980 more violations" in violations[""]
    assert "more" in caught.value.details()
    many_media = scheduler_pb2.CreatePostRequest(account_id=world.account_id, text="x", media_urls=["nope"] * 10_000)
    with pytest.raises(grpc.RpcError) as caught:
        world.acme.CreatePost(many_media)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(dict(caught.value.trailing_metadata())["grpc-status-details-bin"]) < 4096


def test_requests_over_the_size_limit_are_resource_exhausted(world: World) -> None:
    # Before: every service read requests of up to 64 MiB.
    error = _raw(world, "admin", "/postsched.v1.AdminService/GetQueueStats",
                 admin_pb2.GetQueueStatsRequest(tenant_id="x" * (1024 * 1024 + 1)).SerializeToString(), ADMIN)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    text = "x" * 60_000
    batch = scheduler_pb2.BatchCreatePostsRequest(
        requests=[scheduler_pb2.CreatePostRequest(account_id=world.account_id, text=text) for _ in range(600)]
    )
    assert batch.ByteSize() > 32 * 1024 * 1024
    channel = grpc.insecure_channel(world.processes["scheduler"].addr, options=[("grpc.max_send_message_length", -1)])
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/postsched.v1.SchedulerService/BatchCreatePosts")(batch.SerializeToString(), metadata=ACME, timeout=60)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
