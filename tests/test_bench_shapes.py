"""The benchmarks run (small versions, on the test's servers) and print the JSON line of figures
the README's tables come from. Shapes only: a timing threshold here would fail on a slow day."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.infra import ROOT

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
