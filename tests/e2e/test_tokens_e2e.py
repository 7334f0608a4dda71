"""Tokens fit for production, against real services: a tokens file followed without a restart while
calls go on, hashed tokens, short tokens refused at start, named operators in the audit trail, and
a guessing client slowed down."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from postsched import throttle
from postsched.v1 import admin_pb2, admin_pb2_grpc, resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import TENANT_TOKENS
from postsched_devtools.processes import ROOT, Suite

pytestmark = pytest.mark.e2e

OLD = "old-token-of-initech-0123456789abcdef"
NEW = "new-token-of-initech-0123456789abcdef"
ALICE = "alice-operator-token-0123456789abcdefg"
BOB = "bob-operator-token-0123456789abcdefghi"


def _list_accounts(client: Tenant) -> grpc.StatusCode:
    try:
        client.ListAccounts(scheduler_pb2.ListAccountsRequest(page_size=1))
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        return exc.code()


def _until(condition, timeout: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the time"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_rotation_through_the_tokens_file_needs_no_restart(suite: Suite, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# tenant:token, one a line\ninitech:{OLD}\n")
    hashed = hashlib.sha256(TENANT_TOKENS["acme"].encode()).hexdigest()
    scheduler = suite.start("scheduler", POSTSCHED_API_TOKENS=f"acme:sha256:{hashed}",
                            POSTSCHED_API_TOKENS_FILE=str(tokens))
    # A token configured only as its digest works.
    assert _list_accounts(Tenant(scheduler.addr, TENANT_TOKENS["acme"])) == grpc.StatusCode.OK

    old, new = Tenant(scheduler.addr, OLD), Tenant(scheduler.addr, NEW)
    # A tenant that exists only in the file can work (its row is made on its first account).
    old.webhook_account("initech-hook")
    answers: list[grpc.StatusCode] = []
    stop = threading.Event()

    def stream_of_calls() -> None:
        while not stop.is_set():
            answers.append(_list_accounts(old))
            time.sleep(0.02)

    caller = threading.Thread(target=stream_of_calls)
    caller.start()
    try:
        assert _list_accounts(new) == grpc.StatusCode.UNAUTHENTICATED
        tokens.write_text(f"initech:{OLD}\ninitech:{NEW}\n")  # both during the rotation
        took = _until(lambda: _list_accounts(new) == grpc.StatusCode.OK)
        print(f"\nrotation: the new token worked {took:.2f} s after the file was written")
        assert took < 3.0
        time.sleep(1.0)
        assert set(answers) == {grpc.StatusCode.OK}, "the old token failed while it was still in the file"
        during = len(answers)

        tokens.write_text(f"initech:{NEW}\n")
        _until(lambda: bool(answers) and answers[-1] == grpc.StatusCode.UNAUTHENTICATED)
    finally:
        stop.set()
        caller.join()
    assert during > 20
    first_refused = answers.index(grpc.StatusCode.UNAUTHENTICATED)
    assert first_refused >= during and set(answers[first_refused:]) == {grpc.StatusCode.UNAUTHENTICATED}
    assert new.ListAccounts(scheduler_pb2.ListAccountsRequest(page_size=10)).accounts[0].external_id == "initech-hook"

    # A broken file keeps the tokens in force and says so once.
    tokens.write_text(f"initech:{NEW}\nglobex:short\n")
    time.sleep(1.5)
    for _ in range(4):  # the file is looked at when calls come (and read once it has settled)
        assert _list_accounts(new) == grpc.StatusCode.OK
        time.sleep(0.4)
    log = scheduler.log()
    assert log.count("tokens file not re-read") == 1 and "short" not in log.replace("has 5 characters", "")
    assert OLD not in log and NEW not in log


@pytest.mark.parametrize("service, variable, value", [
    ("scheduler", "POSTSCHED_API_TOKENS", "acme:short-token"),
    ("dispatcher", "POSTSCHED_ADMIN_TOKEN", "a"),
    ("admin", "POSTSCHED_ADMIN_TOKENS", "alice:0123456789"),
])
def test_a_short_token_stops_the_service_with_one_line_naming_the_variable(
        suite: Suite, service: str, variable: str, value: str) -> None:
    env = {**suite.base_env, "POSTSCHED_ADMIN_TOKEN": "", "POSTSCHED_ADMIN_TOKENS": "", variable: value}
    result = subprocess.run([sys.executable, "-m", "postsched.cli", "serve", service], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "at least 32" in lines[0], result.stderr
    assert value.partition(":")[2] not in lines[0] if ":" in value else True


def test_named_operators_are_written_in_the_audit_trail(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    admin_process = suite.start("admin", POSTSCHED_ADMIN_TOKEN="", POSTSCHED_ADMIN_TOKENS=f"alice:{ALICE},bob:{BOB}")
    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    account = acme.webhook_account("audit-hook")
    post = acme.CreatePost(scheduler_pb2.CreatePostRequest(
        account_id=account.account_id, text="to fail", scheduled_at=Timestamp(seconds=int(time.time()) + 3600)))
    suite.sql("UPDATE posts SET status = 'FAILED', last_error = 'made to fail' WHERE id = %s", (post.post_id,))
    admin = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(admin_process.addr))

    def as_(token: str) -> tuple[tuple[str, str]]:
        return (("authorization", f"Bearer {token}"),)

    retried = admin.RetryPost(admin_pb2.RetryPostRequest(post_id=post.post_id), metadata=as_(ALICE), timeout=10)
    assert retried.status == resources_pb2.SCHEDULED
    admin.PauseAccount(admin_pb2.PauseAccountRequest(account_id=account.account_id), metadata=as_(BOB), timeout=10)
    admin.ClearCompleted(admin_pb2.ClearCompletedRequest(), metadata=as_(ALICE), timeout=10)
    entries = admin.ListProcessingLogs(admin_pb2.ListProcessingLogsRequest(), metadata=as_(BOB), timeout=10).entries
    by_event = {e.event: e for e in entries}
    assert by_event["retried"].actor == "alice" and "retried by alice" in by_event["retried"].message
    assert by_event["retried"].post_id == post.post_id
    assert by_event["account_paused"].actor == "bob" and by_event["account_paused"].account_id == account.account_id
    assert by_event["cleared"].actor == "alice"
    assert by_event["created"].actor == ""  # what the services do by themselves names nobody


def test_guessing_tokens_is_slowed_and_logged_without_the_token(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    guesses = [f"guess-{i:03d}-0123456789abcdefghijklmnopqrstuvw" for i in range(60)]

    def guess(token: str) -> tuple[grpc.StatusCode, float]:
        started = time.monotonic()
        return _list_accounts(Tenant(scheduler.addr, token)), time.monotonic() - started

    for token in guesses[:throttle.FREE_FAILURES]:  # the free ones answer at once
        code, took = guess(token)
        assert code == grpc.StatusCode.UNAUTHENTICATED and took < 1.0
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:  # in parallel: they wait their turns all the same
        answers = list(pool.map(guess, guesses[throttle.FREE_FAILURES:]))
    elapsed = time.monotonic() - started
    codes = [code for code, _ in answers]
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) > 0, codes
    assert set(codes) == {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED}
    checked = codes.count(grpc.StatusCode.UNAUTHENTICATED)
    print(f"\nguessing: {len(codes)} guesses at once after {throttle.FREE_FAILURES} wrong ones: {checked} checked, "
          f"{len(codes) - checked} refused unchecked, in {elapsed:.1f} s")
    assert checked <= 30 and elapsed > 3.0, (checked, elapsed)  # of 55 guesses at once, at most 30 tried
    # The right token from that address waits its turn too, then works.
    code, took = guess(TENANT_TOKENS["acme"])
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED)
    log = scheduler.log()
    assert '"client": "127.0.0.1"' in log and "sign-in failed" in log
    assert not any(token in log for token in guesses)
    # Counted in Prometheus too, each checked wrong token once (those refused unchecked are not guesses tried).
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{scheduler.metrics_port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("postsched_sign_in_failures_total{") and 'door="grpc"' in line)
    assert counted == throttle.FREE_FAILURES + checked, metrics
