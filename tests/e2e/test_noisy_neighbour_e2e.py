"""The noisy-neighbour benchmark's small version (bench/noisy_neighbour.py, a tenth of the counts,
publishers of 50 slots and 5 per account): a tenant whose posts go to a webhook answering after
5 s or 429 with a day's Retry-After, ahead of another tenant's in the stream, and one account's
burst a second ahead of a hundred small accounts' posts. The targets of the full run hold here:
the quiet tenant's p99 within 2 s, the small accounts' within 3 s, nothing twice, nothing lost.
Without the fair share the quiet tenant's posts waited behind every slot the slow webhook held
(none published within the minute)."""

from __future__ import annotations

import pytest

from tests.soak.test_bench_shapes import run_bench

pytestmark = pytest.mark.e2e


def test_a_noisy_tenant_and_a_big_burst_do_not_hold_up_the_others(pg_admin_url: str, nats_url: str) -> None:
    figures = run_bench("bench/noisy_neighbour.py", "--scale", "0.1", "--concurrency", "50",
                        "--account-concurrency", "5", "--timeout", "60",
                        "--database-url", pg_admin_url, "--nats-url", nats_url, timeout=600)
    quiet = figures["tenant"]["quiet_beside_noisy"]
    small = figures["burst"]["small_after_burst"]
    assert figures["tenant"]["quiet_beside_noisy"]["noisy_posts"] == 250
    for measured in (quiet, small, figures["tenant"]["quiet_alone"], figures["burst"]["small_alone"]):
        assert measured["duplicates"] == 0 and measured["lost"] == 0, figures
    assert small["burst"]["posts"] == 2000 and small["burst"]["duplicates"] == small["burst"]["lost"] == 0
    assert quiet["p99_ms"] <= 2000, figures
    assert small["p99_ms"] <= 3000, figures
