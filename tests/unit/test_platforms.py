"""Unit tests: Graph API error classification, usage headers, retry policy, webhook signatures."""

from __future__ import annotations

import json

import pytest

from services.publisher.platforms.graph_api import Usage, classify, parse_usage
from services.publisher.platforms.outcomes import Permanent, RateLimited, Transient
from postsched.signing import signature
from services.publisher.retry import RetryPolicy


def error(code: int, subcode: int | None = None) -> dict:
    body = {"error": {"message": "m", "type": "OAuthException", "code": code}}
    if subcode:
        body["error"]["error_subcode"] = subcode
    return body


@pytest.mark.parametrize("code", [1, 2])
def test_transient_codes(code: int) -> None:
    result = classify(500, error(code), {}, Usage())
    assert isinstance(result, Transient) and not result.maybe_published


@pytest.mark.parametrize("code, subcode", [(1, 99), (4, 2207051)])
def test_ghost_answers_may_hide_a_success(code: int, subcode: int) -> None:
    result = classify(500, error(code, subcode), {}, Usage())
    assert isinstance(result, Transient) and result.maybe_published


@pytest.mark.parametrize("code", [4, 17, 32, 341, 613, 80001, 80002])
def test_rate_limits(code: int) -> None:
    assert isinstance(classify(400, error(code), {}, Usage()), RateLimited)


def test_rate_limit_waits_what_the_platform_says() -> None:
    usage = parse_usage({"X-Business-Use-Case-Usage": json.dumps(
        {"123": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]})})
    assert usage.regain_access_seconds == 420 and usage.business_call_pct == 100
    result = classify(400, error(80001), {}, usage)
    assert isinstance(result, RateLimited) and result.retry_after == 420
    result = classify(400, error(4), {"Retry-After": "12"}, Usage())
    assert isinstance(result, RateLimited) and result.retry_after == 12


def test_instagram_quota_is_a_rate_limit() -> None:
    result = classify(400, error(9, 2207042), {}, Usage())
    assert isinstance(result, RateLimited) and result.retry_after >= 3600


@pytest.mark.parametrize("code", [10, 100, 200, 299, 368, 506, 1609005])
def test_permanent_codes(code: int) -> None:
    result = classify(400, error(code), {}, Usage())
    assert isinstance(result, Permanent) and not result.needs_credentials


def test_invalid_token_needs_credentials() -> None:
    result = classify(400, error(190, 463), {}, Usage())
    assert isinstance(result, Permanent) and result.needs_credentials


def test_errors_without_a_graph_body() -> None:
    assert isinstance(classify(502, None, {}, Usage()), Transient)
    assert isinstance(classify(404, None, {}, Usage()), Permanent)


def test_app_usage_header() -> None:
    usage = parse_usage({"X-App-Usage": json.dumps({"call_count": 28, "total_time": 25, "total_cputime": 91})})
    assert usage.app_call_pct == 91
    assert parse_usage({"X-App-Usage": "not json"}) == Usage()


def test_retry_policy_grows_with_jitter_and_a_cap() -> None:
    low = RetryPolicy(base=10, cap=100, random=lambda: 0.0)
    high = RetryPolicy(base=10, cap=100, random=lambda: 0.999)
    assert [low.delay(n) for n in (1, 2, 3)] == [10, 20, 40]
    assert 19.9 < high.delay(1) < 20 and high.delay(5) == 100
    assert low.delay(1, platform_hint=60) == 60
    with pytest.raises(ValueError):
        RetryPolicy(base=0, cap=1)


def test_webhook_signature_format() -> None:
    sig = signature("secret", 1700000000, b'{"a":1}')
    assert sig.startswith("t=1700000000,v1=") and len(sig.split("v1=")[1]) == 64
