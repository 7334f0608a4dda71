"""The fault suite's short profile: 1,500 posts over 40 seconds through two dispatchers and three
publishers on a three-node NATS cluster, with SIGKILLs, a PostgreSQL restart, a NATS node loss, a
whole-cluster restart, lost messages and ghost successes, of posts and of first comments
(postsched_devtools/faults.py). The full profile is
bench/fault_suite.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from postsched_devtools.faults import run

pytestmark = pytest.mark.e2e


def test_short_fault_suite_publishes_nothing_twice_and_loses_nothing(tmp_path: Path) -> None:
    report = run("short", seed=7, work_dir=tmp_path)
    print(report.text())
    assert report.published_twice == 0, report.text()
    assert report.commented_twice == 0, report.text()
    assert report.comments.get("PUBLISHED", 0) > 0 and "PENDING" not in report.comments, report.text()
    assert report.comments["found by a look"] > 0, "no first comment's answer was lost"
    assert report.lost_or_stuck == 0, report.text()
    assert not report.wrong_outcomes, report.text()
    assert report.faults["postgres_restart"] == report.faults["nats_node_loss"] == 1
    assert report.faults["lost_messages_deleted"] > 0, "the lost-message fault deleted nothing"
    assert sum(n for k, n in report.faults.items() if k.startswith("sigkill_")) >= 4
    assert report.events.get("published_reconciled", 0) > 0, "no ghost success was met"
