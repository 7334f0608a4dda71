"""Tenant limits without processes: the configuration's checks, the request rate, the stream count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postsched.errors import ConfigError, QuotaExceeded
from postsched.limits import Limits, RequestRate, StreamCount, TenantLimits


def test_defaults_overrides_and_a_file() -> None:
    limits = TenantLimits.parse('{"default": {"live_posts": 10}, "tenants": {"acme": {"accounts": 3}}}')
    assert limits.of("globex") == Limits(live_posts=10)
    assert limits.of("acme") == Limits(live_posts=10, accounts=3)  # an override starts from the default
    assert TenantLimits.parse("") == TenantLimits()


def test_a_file_named_with_at(tmp_path: Path) -> None:
    path = tmp_path / "limits.json"
    path.write_text(json.dumps({"tenants": {"acme": {"publish_weight": 4}}}))
    assert TenantLimits.parse(f"@{path}").of("acme").publish_weight == 4
    with pytest.raises(ConfigError, match="cannot read"):
        TenantLimits.parse(f"@{tmp_path / 'missing.json'}")


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ('{"defaults": {}}', "must be"),
    ('{"default": {"live_post": 3}}', "unknown limit 'live_post'"),
    ('{"default": {"accounts": 0}}', "default.accounts must be a whole number of at least 1"),
    ('{"tenants": {"acme": {"watch_streams": 2.5}}}', "tenants.acme.watch_streams"),
    ('{"tenants": {"acme": {"watch_streams": true}}}', "tenants.acme.watch_streams"),
    ('{"tenants": []}', "tenants must be an object"),
])
def test_bad_configuration_names_the_variable_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="POSTSCHED_TENANT_LIMITS") as info:
        TenantLimits.parse(text)
    assert message in str(info.value)


def test_the_request_rate_is_a_token_bucket_per_tenant() -> None:
    clock = [0.0]
    rate = RequestRate(TenantLimits.parse('{"default": {"requests_per_second": 10, "request_burst": 20}}'),
                       monotonic=lambda: clock[0])
    for _ in range(20):
        rate.take("acme")
    with pytest.raises(QuotaExceeded) as info:
        rate.take("acme")
    assert info.value.limit == "requests_per_second" and "retry in 0.10 s" in info.value.description
    rate.take("globex", 20)  # another tenant's bucket is its own
    clock[0] = 0.5
    rate.take("acme", 5)  # half a second refills five
    with pytest.raises(QuotaExceeded):
        rate.take("acme")
    with pytest.raises(QuotaExceeded) as info:
        rate.take("acme", 21)  # never fits
    assert info.value.limit == "request_burst"


def test_streams_are_counted_per_tenant() -> None:
    streams = StreamCount(TenantLimits.parse('{"default": {"watch_streams": 2}}'))
    streams.open("acme")
    streams.open("acme")
    with pytest.raises(QuotaExceeded) as info:
        streams.open("acme")
    assert info.value.limit == "watch_streams"
    streams.open("globex")
    streams.close("acme")
    streams.open("acme")
