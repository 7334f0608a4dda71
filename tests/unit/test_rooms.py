"""Rooms that say what they hold: product code never reaches into development tools or tests."""

from __future__ import annotations

import ast
import sys

import pytest

from postsched import cli
from postsched_devtools.processes import ROOT


def imported_modules(path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_services_holds_the_four_services_only() -> None:
    rooms = {p.name for p in (ROOT / "services").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms == {"scheduler", "dispatcher", "publisher", "admin"}


def test_product_code_imports_no_development_tool_and_no_test() -> None:
    offenders = []
    for path in [*(ROOT / "postsched").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        for module in imported_modules(path):
            if module.split(".")[0] in ("postsched_devtools", "tests", "bench"):
                offenders.append(f"{path.relative_to(ROOT)}: {module}")
    # the one exception: `postsched fake-meta` loads the tool when it is installed
    assert offenders == ["postsched/cli.py: postsched_devtools.fake_meta.server"]


def test_fake_meta_without_the_devtools_package_says_so(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    for name in [m for m in sys.modules if m.startswith("postsched_devtools.fake_meta")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "postsched_devtools.fake_meta", None)  # as in the production image
    assert cli.main(["fake-meta", "--port", "1"]) == 2
    assert "development tool" in capsys.readouterr().err


# Which module (or package) writes each table. processing_logs: notes and account changes in
# processing_log.py; a post's audit rows in the statement that moves it (store/posts/).
WRITERS = {
    "posts": "postsched/store/posts/",
    "processing_logs": ("postsched/store/processing_log.py", "postsched/store/posts/"),
    # credentials_health.py: the credentials-health duty's claim and findings (its columns only).
    "accounts": ("postsched/store/accounts.py", "postsched/store/credentials_health.py"),
    "tenants": "postsched/store/accounts.py",
    "events": "postsched/store/events.py",
    "event_relay": "postsched/store/events.py",
    "event_webhooks": "postsched/store/event_webhooks.py",
    "event_deliveries": "postsched/store/event_webhooks.py",
    "post_outcomes": "postsched/store/counters.py",
    "dashboard_sessions": "postsched/store/dashboard_sessions.py",
    "recurring_posts": "postsched/store/recurring.py",
    "posting_schedules": "postsched/store/schedules.py",
    "publishing_quotas": "postsched/store/quotas.py",
}


def test_every_table_is_written_from_its_own_module_only() -> None:
    import re

    stray, seen = [], set()
    for path in [*(ROOT / "postsched").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        where = str(path.relative_to(ROOT))
        if "/migrations/" in where or where.startswith("postsched/v1/"):
            continue
        for table in re.findall(r"(?:UPDATE|INSERT INTO|DELETE FROM)\s+([a-z_]+)", path.read_text()):
            seen.add(table)
            owners = WRITERS.get(table)
            if owners is None or not where.startswith(owners):
                stray.append(f"{where} writes {table}")
    assert stray == []
    assert seen == set(WRITERS)  # every table above is written somewhere the search sees


def test_nats_is_imported_by_the_broker_only() -> None:
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in [*(ROOT / "postsched").rglob("*.py"), *(ROOT / "services").rglob("*.py")]
        if any(m.split(".")[0] == "nats" for m in imported_modules(path))
    )
    assert importers == ["postsched/broker.py"]
