"""Prometheus /metrics on every service, and the Grafana dashboard and alert rules in deploy/: every
metric they use is found on a running suite that has published one post and failed another."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from postsched.settings import DEFAULT_METRICS_ADDRS
from postsched.v1 import scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import ROOT, ServiceProcess, Suite

pytestmark = pytest.mark.e2e
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "postsched-dashboard.json"
METRIC = re.compile(r"\bpostsched_[a-z_]+\b")


def scrape(service: ServiceProcess) -> dict[str, list]:
    """Sample name -> [(labels, value)] from the service's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def used_metrics() -> set[str]:
    rules = YAML(typ="safe").load(ALERTS.read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_every_metric_the_dashboard_and_alerts_use_is_served(suite: Suite, fake_meta: FakeMeta) -> None:
    suite.base_env.update(POSTSCHED_META_GRAPH_URL=fake_meta.graph_url)
    services = {name: suite.start(name) for name in ("scheduler", "dispatcher", "publisher", "admin")}
    fake_meta.fault(kind="error", account="8880002", endpoint="feed", times=1, http_status=400, code=100)
    client = Tenant(services["scheduler"].addr, TENANT_TOKENS["acme"])
    page = client.page_account("8880002", token="EAAB-metrics-token")
    failing = client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=page.account_id, text="fails"))
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "FAILED", params=(failing.post_id,))
    ok = client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=page.account_id, text="goes out"))
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(ok.post_id,))

    deadline = time.monotonic() + 30
    while True:  # the admin refreshes its queue gauges every few seconds
        admin = scrape(services["admin"])
        depth = {labels["status"]: value for labels, value in admin.get("postsched_queue_depth", [])}
        if depth.get("PUBLISHED") == 1 and depth.get("FAILED") == 1:
            break
        assert time.monotonic() < deadline, f"queue gauges not refreshed: {depth}"
        time.sleep(0.5)
    scraped = {name: scrape(service) for name, service in services.items()}
    served = {sample for samples in scraped.values() for sample in samples}
    needed = used_metrics()
    assert len(needed) >= 9
    assert needed <= served, f"used by the dashboard or alerts but not served: {sorted(needed - served)}"

    publisher = scraped["publisher"]
    published = {labels["platform"]: value for labels, value in publisher["postsched_posts_published_total"]}
    assert published == {"facebook_page": 1}
    outcomes = {labels["outcome"]: value for labels, value in publisher["postsched_publish_duration_seconds_count"]}
    assert outcomes == {"FAILED": 1, "PUBLISHED": 1}  # attempts by outcome
    assert publisher["postsched_accounts_rate_limited"][0][1] == 0
    assert sum(v for _, v in scraped["dispatcher"]["postsched_handover_lateness_seconds_count"]) == 2
    for name, samples in scraped.items():  # every service reports its duties, all running
        duties = {labels["duty"]: value for labels, value in samples.get("postsched_duty_healthy", [])}
        if name != "scheduler":
            assert duties and set(duties.values()) == {1.0}, (name, duties)
    assert {labels["status"] for labels, _ in admin["postsched_queue_depth"]} >= {"SCHEDULED", "PUBLISHED", "FAILED"}


def test_the_alert_rules_are_well_formed() -> None:
    rules = YAML(typ="safe").load(ALERTS.read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"PostschedFailureRate", "PostschedOverduePosts", "PostschedConsumerBacklog", "PostschedDutyDown"} <= set(alerts)
    for rule in alerts.values():
        assert rule["expr"].strip() and rule["labels"]["severity"] in ("warning", "critical")
        assert re.fullmatch(r"\d+[smh]", rule["for"]) and rule["annotations"]["summary"]
    assert DEFAULT_METRICS_ADDRS == {"scheduler": "127.0.0.1:9101", "dispatcher": "127.0.0.1:9102",
                                     "publisher": "127.0.0.1:9103", "admin": "127.0.0.1:9104"}
