"""Tokens (postsched/auth.py) and failed sign-ins (postsched/throttle.py), without processes:
an injected clock decides when the tokens file is looked at and how failures decay."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import structlog

from postsched import throttle
from postsched.auth import TokenBook, operator_tokens, tenant_tokens
from postsched.errors import ConfigError, Unauthenticated
from postsched.throttle import FailedSignIns, TooManyFailures, client_address

OLD = "old-token-of-acme-0123456789abcdefgh"
NEW = "new-token-of-acme-0123456789abcdefgh"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("env, variable", [
    ({"POSTSCHED_API_TOKENS": "acme:t1"}, "POSTSCHED_API_TOKENS"),
    ({"POSTSCHED_API_TOKENS": f"acme:{'x' * 31}"}, "POSTSCHED_API_TOKENS"),
    ({"POSTSCHED_API_TOKENS": "acme:sha256:abc"}, "POSTSCHED_API_TOKENS"),
])
def test_short_tokens_and_bad_digests_are_refused_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        tenant_tokens(env)
    assert variable in info.value.message
    assert "t1" not in info.value.message and "x" * 31 not in info.value.message  # the token is never echoed


@pytest.mark.parametrize("env, variable", [
    ({"POSTSCHED_ADMIN_TOKEN": "a"}, "POSTSCHED_ADMIN_TOKEN"),
    ({"POSTSCHED_ADMIN_TOKENS": "alice:short"}, "POSTSCHED_ADMIN_TOKENS"),
    ({"POSTSCHED_ADMIN_TOKENS": f"al ice:{'a' * 32}"}, "POSTSCHED_ADMIN_TOKENS"),
    ({}, "POSTSCHED_ADMIN_TOKEN"),
])
def test_operator_tokens_are_checked_the_same_way(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        operator_tokens(env)


def test_a_digest_stands_for_its_token_and_named_operators_are_told_apart() -> None:
    hashed = hashlib.sha256(OLD.encode()).hexdigest()
    book = TokenBook(tenant_tokens({"POSTSCHED_API_TOKENS": f"acme:sha256:{hashed}"}))
    assert book.authenticate(OLD).tenant_id == "acme"
    with pytest.raises(Unauthenticated):
        book.authenticate(f"sha256:{hashed}")  # the digest itself is not a token

    operators = TokenBook(operator_tokens({"POSTSCHED_ADMIN_TOKEN": "o" * 32,
                                           "POSTSCHED_ADMIN_TOKENS": f"alice:{'a' * 32},bob:{'b' * 40}"}))
    assert [operators.authenticate(t).name for t in ("o" * 32, "a" * 32, "b" * 40)] == ["operator", "alice", "bob"]
    assert all(operators.authenticate(t).operator and operators.authenticate(t).tenant_id is None
               for t in ("o" * 32, "a" * 32))


def test_the_tokens_file_is_followed_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# tenant:token\nacme:{OLD}\n")
    clock = Clock()
    book = TokenBook(tenant_tokens({"POSTSCHED_API_TOKENS_FILE": str(path)}), clock=clock)
    assert book.authenticate(OLD).tenant_id == "acme"

    path.write_text(f"acme:{OLD}\nacme:{NEW}\n")  # rotation: both for a while
    with pytest.raises(Unauthenticated):
        book.authenticate(NEW)  # not looked at again within the second
    clock.now += 1.5
    with pytest.raises(Unauthenticated):
        book.authenticate(NEW)  # seen changed: read once it has stayed so for a moment
    clock.now += 0.3
    assert book.authenticate(NEW).tenant_id == "acme" and book.authenticate(OLD).tenant_id == "acme"

    path.write_text(f"acme:{NEW}\n")
    os.utime(path, ns=(1, 2))  # a different stamp even on a coarse file system
    clock.now += 1.5
    book.authenticate(NEW)
    clock.now += 0.3
    with pytest.raises(Unauthenticated):
        book.authenticate(OLD)
    assert book.authenticate(NEW).tenant_id == "acme"


def test_a_file_caught_mid_write_is_not_read(tmp_path: Path) -> None:
    """`echo … > file` truncates, then writes: the empty file in between must not sign anyone out."""
    path = tmp_path / "tokens"
    path.write_text(f"acme:{OLD}\n")
    clock = Clock()
    book = TokenBook(tenant_tokens({"POSTSCHED_API_TOKENS_FILE": str(path)}), clock=clock)
    path.write_text("")  # truncated
    clock.now += 1.5
    assert book.authenticate(OLD).tenant_id == "acme"  # seen empty once: not read
    path.write_text(f"acme:{OLD}\nacme:{NEW}\n")  # the write lands
    clock.now += 0.3
    assert book.authenticate(OLD).tenant_id == "acme"  # changed again: still not read
    clock.now += 0.3
    assert book.authenticate(NEW).tenant_id == "acme" and book.authenticate(OLD).tenant_id == "acme"


def test_a_broken_tokens_file_keeps_the_tokens_in_force_and_is_logged_once(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"acme:{OLD}\n")
    clock = Clock()
    book = TokenBook(tenant_tokens({"POSTSCHED_API_TOKENS_FILE": str(path)}), clock=clock)
    path.write_text(f"acme:{OLD}\nglobex:short\n")
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            clock.now += 1.5
            assert book.authenticate(OLD).tenant_id == "acme"
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1 and "POSTSCHED_API_TOKENS_FILE" in errors[0]["reason"]
    assert "short" not in str(errors)


def test_a_missing_tokens_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="POSTSCHED_API_TOKENS_FILE"):
        tenant_tokens({"POSTSCHED_API_TOKENS_FILE": str(tmp_path / "absent")})


def test_the_same_token_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"globex:{OLD}\n")
    with pytest.raises(ConfigError, match="same token"):
        tenant_tokens({"POSTSCHED_API_TOKENS": f"acme:{OLD}", "POSTSCHED_API_TOKENS_FILE": str(path)})


def test_failures_are_free_at_first_then_spaced_then_refused_and_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    failures = FailedSignIns("grpc", clock=clock)
    with structlog.testing.capture_logs() as logs:
        for _ in range(throttle.FREE_FAILURES):
            assert failures.wait_before_try("10.0.0.1") == 0
            failures.failed("10.0.0.1")
    assert len(logs) == throttle.FREE_FAILURES and all(e["client"] == "10.0.0.1" for e in logs)
    assert failures.wait_before_try("10.0.0.2") == 0  # another address is not held up

    # Over the free failures, tries made at once queue one behind the other.
    waits = []
    for _ in range(40):
        try:
            waits.append(failures.wait_before_try("10.0.0.1"))
        except TooManyFailures as exc:
            assert 0 < exc.retry_after <= throttle.MAX_WAIT + throttle.MAX_SPACING
            break
        failures.failed("10.0.0.1")
    assert waits[0] == 0 and all(b > a for a, b in zip(waits, waits[1:]))
    assert waits[-1] <= throttle.MAX_WAIT and len(waits) < 40

    clock.now += 20 * throttle.HALF_LIFE  # an address that stopped guessing is free again
    assert failures.wait_before_try("10.0.0.1") == 0


def test_the_address_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "MAX_ADDRESSES", 100)
    failures = FailedSignIns("grpc", clock=Clock())
    for i in range(1000):
        failures.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(failures._addresses) == 100


def test_client_address_drops_the_port() -> None:
    assert client_address("ipv4:127.0.0.1:5123") == "127.0.0.1"
    assert client_address("ipv6:[::1]:5123") == "::1"
    assert client_address("unix:/tmp/x") == "unix:/tmp/x"


def test_a_busy_client_that_sometimes_fails_is_not_throttled() -> None:
    """The bad-input suite's pattern: a few wrong tokens among many right ones, from one address."""
    failures = FailedSignIns("grpc", clock=Clock())
    for i in range(300):
        assert failures.wait_before_try("127.0.0.1") == 0
        if i % 10 == 0:
            failures.failed("127.0.0.1")
        else:
            failures.succeeded("127.0.0.1")
    # Once it only fails, it is a guesser.
    for _ in range(250):
        failures.failed("127.0.0.1")
    assert failures.wait_before_try("127.0.0.1") == 0  # 280 failures, 270 successes: the first try is free
    assert failures.wait_before_try("127.0.0.1") > 0


def test_ipv6_failures_count_per_64_and_a_token_is_never_echoed() -> None:
    failures = FailedSignIns("grpc", clock=Clock())
    for i in range(throttle.FREE_FAILURES + 1):
        failures.failed(f"2001:db8:1:2::{i + 1:x}")  # a new address of the same /64 each time
    assert failures.wait_before_try("2001:db8:1:2::ffff") == 0  # first throttled try
    assert failures.wait_before_try("2001:db8:1:2::abcd") > 0
    assert failures.wait_before_try("2001:db8:1:3::1") == 0  # another /64

    token = "written-the-wrong-way-round-0123456789"
    for line in (f"{token}:acme", f"{token}x" * 3 + ":" + "y" * 40):
        with pytest.raises(ConfigError) as info:
            tenant_tokens({"POSTSCHED_API_TOKENS": line})
        assert token not in info.value.message and "entry 1" in info.value.message


def test_a_token_at_the_wrong_door_is_told_so() -> None:
    tenant, operator = "t" * 40, "o" * 40
    both = {"POSTSCHED_API_TOKENS": f"acme:{tenant}", "POSTSCHED_ADMIN_TOKEN": operator}
    with pytest.raises(Unauthenticated, match="this is a tenant's token; this service takes an operators' token"):
        TokenBook(operator_tokens(both)).authenticate(tenant)
    with pytest.raises(Unauthenticated, match="this is an operators' token; the scheduler takes a tenant's token"):
        TokenBook(tenant_tokens(both)).authenticate(operator)
    with pytest.raises(Unauthenticated, match="^invalid token$"):  # anything else: no hint
        TokenBook(operator_tokens(both)).authenticate("x" * 40)
    # A service not given the other door's tokens cannot tell, and says only "invalid token".
    with pytest.raises(Unauthenticated, match="^invalid token$"):
        TokenBook(operator_tokens({"POSTSCHED_ADMIN_TOKEN": operator})).authenticate(tenant)
    # A malformed other door is no hint, and no reason to stop.
    assert TokenBook(operator_tokens({**both, "POSTSCHED_API_TOKENS": "broken"})).authenticate(operator)
