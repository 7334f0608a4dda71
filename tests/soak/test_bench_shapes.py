"""The benchmarks run (small versions, on the test's servers) and print the JSON line of figures
the README's tables come from. Shapes only: a timing threshold here would fail on a slow day."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from postsched_devtools.processes import ROOT

pytestmark = pytest.mark.e2e


def run_bench(*args: str, timeout: float = 300) -> dict:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:]
    return json.loads(lines[-1])


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def test_end_to_end_burst_prints_throughput_lateness_cpu_memory_and_the_floor(pg_admin_url: str, nats_url: str) -> None:
    figures = run_bench("bench/end_to_end.py", "--count", "300", "--pages", "3", "--floor-count", "600",
                        "--database-url", pg_admin_url, "--nats-url", nats_url)
    assert figures["bench"] == "end_to_end" and figures["mode"] == "burst" and figures["count"] == 300
    assert figures["published"] == 300 and figures["failed"] == 0
    assert figures["duplicates"] == 0 and figures["lost"] == 0
    for key in ("posts_per_s", "seconds", "last_on_platform_s", "cpu_us_per_post", "multiple_of_floor"):
        assert is_number(figures[key]), key
    assert set(figures["lateness_ms"]) == {"p50", "p99", "max"}
    assert figures["lateness_ms"]["p50"] <= figures["lateness_ms"]["p99"] <= figures["lateness_ms"]["max"]
    assert {"dispatcher", "publisher", "publisher#2", "fake-meta"} <= set(figures["cpu_us_per_post_by_process"])
    assert all(is_number(v) and v > 0 for v in figures["peak_rss_mib"].values())
    floor = figures["floor"]
    assert [p["piece"].split()[0] for p in floor["pieces"]] == ["postgres", "postgres", "jetstream", "jetstream", "aiohttp"]
    assert all(is_number(p["ops_per_s"]) and is_number(p["cpu_us_per_op"]) for p in floor["pieces"])
    assert [c["piece"] for c in floor["compare"]] == ["jetstream publish_async without Nats-Msg-Id"]
    assert floor["cpu_us_per_post"] == pytest.approx(sum(p["cpu_us_per_op"] for p in floor["pieces"]), abs=0.5)


def test_end_to_end_steady_load_spreads_posts_over_time(pg_admin_url: str, nats_url: str) -> None:
    figures = run_bench("bench/end_to_end.py", "--steady-rate", "50", "--duration", "4", "--pages", "2",
                        "--latency-ms", "20", "--no-floor", "--database-url", pg_admin_url, "--nats-url", nats_url)
    assert figures["mode"] == "steady" and figures["count"] == 200 and figures["latency_ms"] == 20
    assert figures["published"] == 200 and figures["duplicates"] == 0 and figures["lost"] == 0
    # Spread over about 4 s, so the last post reached the platform seconds after the first fell due.
    assert figures["last_on_platform_s"] >= 3.0
    assert "floor" not in figures


def test_create_posts_prints_both_rates(pg_admin_url: str, nats_url: str) -> None:
    figures = run_bench("bench/create_posts.py", "--single", "50", "--concurrency", "8", "--batches", "2",
                        "--batch-size", "100", "--database-url", pg_admin_url, "--nats-url", nats_url)
    assert figures["bench"] == "create_posts"
    assert is_number(figures["create_post"]["posts_per_s"]) and figures["create_post"]["calls"] == 50
    assert is_number(figures["batch_create_posts"]["posts_per_s"]) and figures["batch_create_posts"]["batch_size"] == 100


def test_dispatch_prints_burst_rate_and_spread_lateness(pg_admin_url: str, nats_url: str) -> None:
    figures = run_bench("bench/dispatch.py", "--count", "300", "--spread", "3", "--spread-count", "60",
                        "--database-url", pg_admin_url, "--nats-url", nats_url)
    assert figures["bench"] == "dispatch"
    assert figures["burst"]["count"] == 300 and is_number(figures["burst"]["posts_per_s"])
    lateness = figures["spread"]["lateness_ms"]
    assert set(lateness) == {"p50", "p99", "max", "min", "mean"} and lateness["p50"] <= lateness["max"]


def test_queue_stats_prints_latency_per_scope(pg_admin_url: str, nats_url: str) -> None:
    figures = run_bench("bench/queue_stats.py", "--posts", "2000", "--accounts", "5", "--calls", "5",
                        "--database-url", pg_admin_url, "--nats-url", nats_url)
    assert figures["bench"] == "queue_stats" and figures["posts"] >= 2000
    for scope in ("all_tenants", "one_tenant", "one_account"):
        assert is_number(figures[scope]["p50_ms"]) and figures[scope]["p50_ms"] <= figures[scope]["max_ms"]
    assert figures["one_tenant"]["published"] == 1800  # 90 % of the posts it added


def test_events_prints_trigger_watch_and_webhook_rates(pg_admin_url: str, nats_url: str) -> None:
    figures = run_bench("bench/events.py", "--count", "200", "--database-url", pg_admin_url, "--nats-url", nats_url)
    assert figures["bench"] == "events" and figures["events"] == 200 and figures["webhook_delivered"] == 200
    for key in ("trigger_events_per_s", "watch_events_per_s", "webhook_events_per_s"):
        assert is_number(figures[key]) and figures[key] > 0, key


def test_nats_durability_prints_each_setting() -> None:
    figures = run_bench("bench/nats_durability.py", "--count", "500", "--no-cluster")
    assert figures["bench"] == "nats_durability"
    assert [s["setting"] for s in figures["settings"]] == [
        "R1, sync_interval 2m", "R1, sync_interval 1s", "R1, sync_interval always"]
    assert all(is_number(s["msgs_per_s"]) and is_number(s["cpu_us_per_msg"]) for s in figures["settings"])


def test_nats_acks_prints_each_retention_and_backlog() -> None:
    figures = run_bench("bench/nats_acks.py", "--counts", "300")
    assert figures["bench"] == "nats_acks" and figures["sync_interval"] == "always"
    assert [(r["retention"], r["count"]) for r in figures["runs"]] == [("workqueue", 300), ("limits", 300)]
    for run in figures["runs"]:
        for key in ("publish_server_cpu_us_per_msg", "fetch_ack_server_cpu_us_per_msg", "total_s"):
            assert is_number(run[key]) and run[key] >= 0, key
        assert is_number(run["drained_msgs_per_s"]) and run["drained_msgs_per_s"] > 0
