"""`postsched import` and `postsched export` as subprocesses against a real scheduler process and
PostgreSQL: a 10,000-line CSV with 37 bad lines of every kind (issue 24, item 4).

The scheduler runs with the tenant's request rate raised, so lines/s measures the import and the
server rather than the default limit (500 requests a second, each BatchCreatePosts item counting:
an import under the defaults runs at about that once the 5,000 burst is spent). The last test runs
one under the defaults to show the import waits the limit out instead of failing lines.
"""

from __future__ import annotations

import csv
import os
import random
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from postsched.v1 import scheduler_pb2
from postsched_devtools.processes import Databases, ServiceProcess
from postsched_devtools.tenant import Tenant
from tests.conftest import TENANT_TOKENS, service_env

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
TOKEN = TENANT_TOKENS["acme"]
LINES = 10_000
KINDS = {  # how many bad lines of each kind: 37 in all
    "unknown account": 7, "bad time zone": 6, "instagram without media": 6, "bad url": 6, "duplicate key": 6,
    "bad timestamp": 6,
}
FAST = '{"default": {"requests_per_second": 100000, "request_burst": 100000}}'


@pytest.fixture(scope="module")
def server(databases: Databases, secret_key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    url = databases.fresh()
    env = {**service_env(url, secret_key), "POSTSCHED_TENANT_LIMITS": FAST, "POSTSCHED_LOG_LEVEL": "warning"}
    service = ServiceProcess("scheduler", env, tmp_path_factory.mktemp("logs"))
    service.database_url = url  # type: ignore[attr-defined]
    service.start()
    try:
        yield service
    finally:
        service.stop()


def post_count(service: ServiceProcess) -> int:
    with psycopg.connect(service.database_url) as conn:  # type: ignore[attr-defined]
        row = conn.execute("SELECT count(*) FROM posts").fetchone()
        assert row is not None
        return int(row[0])


def postsched(service: ServiceProcess, *args: str) -> tuple[int, str, str, float]:
    env = {**os.environ, "POSTSCHED_TOKEN": TOKEN}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "postsched.cli", *args, "--address", service.addr],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def summary(stdout: str) -> str:
    return stdout.strip().splitlines()[-1]


def next_july(now: datetime) -> int:
    return now.year if datetime(now.year, 7, 1, tzinfo=timezone.utc) > now + timedelta(days=2) else now.year + 1


def make_file(path: Path, now: datetime) -> tuple[set[int], str]:
    """The CSV, the line numbers of its bad lines, and the key of its local-time line."""
    rng = random.Random(24)
    start = now + timedelta(days=1)
    rows: list[list[str]] = []
    keyed: list[tuple[int, str]] = []  # (line, key) of good lines with a key of their own
    for i in range(LINES):
        line = i + 2  # the header is line 1
        at = (start + timedelta(seconds=37 * i)).replace(microsecond=0)
        kind = i % 5
        if kind == 0:
            rows.append(["webhook:hook-a", f"post {i}", "", f"https://example.com/{i}", at.isoformat(), "", ""])
        elif kind == 1:
            rows.append(["facebook_page:1234567890", f"page post {i}", "", "", at.strftime("%Y-%m-%dT%H:%M:%SZ"), "", ""])
        elif kind == 2:
            rows.append(["INSTAGRAM:17841400000000001", f"photo {i} #import",
                         f"https://cdn.example.com/{i}.jpg https://cdn.example.com/{i}b.jpg", "",
                         at.strftime("%Y-%m-%dT%H:%M:%SZ"), "", ""])
        elif kind == 3:
            local = at.astimezone(timezone(timedelta(hours=-5))).replace(tzinfo=None)
            rows.append(["webhook:hook-a", f"local {i}", "", "", local.isoformat(), "America/Bogota", f"key-{i}"])
            keyed.append((line, f"key-{i}"))
        else:
            rows.append(["webhook:hook-a", f"as soon as possible {i}", "", "", "", "", ""])
    july = next_july(now)
    rows[7] = ["webhook:hook-a", "nine local", "", "", f"{july}-07-01T09:00:00", "America/New_York", "local-nine"]
    bad: set[int] = set()
    choices = rng.sample(range(200, LINES), sum(KINDS.values()))
    kinds = [k for k, n in KINDS.items() for _ in range(n)]
    for i, kind in zip(choices, kinds):
        row = rows[i]
        if kind == "unknown account":
            row[0] = rng.choice(["webhook:nobody", "facebook_page:999", "00000000-0000-4000-8000-000000000000"])
        elif kind == "bad time zone":
            row[4], row[5] = "2027-01-01T09:00:00", rng.choice(["Mars/Olympus", "Europe/Berln", "EST+5"])
        elif kind == "instagram without media":
            row[0], row[2], row[3] = "instagram:17841400000000001", "", ""
        elif kind == "bad url":
            row[2 if rng.random() < 0.5 else 3] = rng.choice(["ftp://example.com/x.jpg", "not a url", "//no-scheme"])
            row[0] = "webhook:hook-a"
        elif kind == "duplicate key":
            row[6] = rng.choice([k for line, k in keyed if line < i + 2 and line - 2 not in choices])
        else:
            row[4], row[5] = rng.choice(["2027-02-30T09:00:00Z", "tomorrow", "2027-03-01T25:00:00Z"]), ""
        bad.add(i + 2)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["account", "text", "media_urls", "link", "scheduled_at", "time_zone", "idempotency_key"])
        writer.writerows(rows)
    return bad, "local-nine"


def test_import_dry_run_real_run_rerun_and_export(server: ServiceProcess, tmp_path: Path) -> None:
    acme = Tenant(server.addr, TOKEN)
    acme.webhook_account("hook-a")
    acme.page_account("1234567890")
    acme.instagram_account("17841400000000001")
    now = datetime.now(timezone.utc)
    path = tmp_path / "posts.csv"
    bad, local_key = make_file(path, now)
    assert len(bad) == 37

    # dry run: exactly the 37 lines, and nothing written
    code, out, err, took = postsched(server, "import", str(path), "--dry-run")
    reported = {int(n) for n in re.findall(r"^line (\d+): ", out, re.M)}
    assert code == 1, err
    assert reported == bad, (sorted(reported - bad), sorted(bad - reported))
    assert summary(out).startswith("9963 lines valid, 37 with errors")
    assert post_count(server) == 0 and not (tmp_path / "posts.rejected.csv").exists()
    print(f"\nimport --dry-run: {LINES} lines in {took:.2f} s with the process start = {LINES / took:.0f} lines/s; "
          f"its own summary: {summary(out)}")

    # the real run: the other 9,963, the 37 in the report with their reasons
    code, out, err, took = postsched(server, "import", str(path))
    assert code == 1, err
    assert summary(out).startswith("9963 created, 0 already there, 37 rejected"), out[-2000:]
    assert post_count(server) == 9963
    assert re.search(r"^\d+/9963 lines, \d+ posts/s, ETA", err, re.M), err  # progress, plain lines off a terminal
    with open(tmp_path / "posts.rejected.csv", newline="") as report:
        rejected = list(csv.DictReader(report))
    assert {int(r["line"]) for r in rejected} == bad and all(r["reason"] for r in rejected)
    reasons = " | ".join(r["reason"] for r in rejected)
    for expected in ("unknown account", "unknown time zone", "Instagram posts need at least one",
                     "the same key as line", "is not an ISO 8601", "must be an absolute http"):
        assert expected in reasons, expected
    print(f"import: {LINES} lines in {took:.2f} s with the process start = {LINES / took:.0f} lines/s; "
          f"its own summary: {summary(out)}")

    # the local time with its zone landed at the right instant
    post = acme.GetPost(scheduler_pb2.GetPostRequest(idempotency_key=local_key))
    july = next_july(now)
    assert post.scheduled_at.ToDatetime(tzinfo=timezone.utc) == datetime(july, 7, 1, 13, tzinfo=timezone.utc)  # EDT

    # again: nothing new
    code, out, err, took = postsched(server, "import", str(path))
    assert code == 1 and summary(out).startswith("0 created, 9963 already there, 37 rejected"), out[-2000:]
    assert post_count(server) == 9963
    print(f"import again: {took:.2f} s, {summary(out)}")

    # export the range, import it back: nothing new
    exported = tmp_path / "export.csv"
    since = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (now + timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, err, took = postsched(server, "export", "--from", since, "--until", until, "--output", str(exported))
    assert code == 0 and "9963 posts exported" in err, err
    print(f"export: 9963 posts in {took:.2f} s")
    code, out, err, took = postsched(server, "import", str(exported))
    assert code == 0, out[-2000:] + err
    assert summary(out).startswith("0 created, 9963 already there, 0 rejected")
    assert post_count(server) == 9963
    acme.close()


def test_import_under_the_default_request_rate_waits_instead_of_failing(scheduler: ServiceProcess, tmp_path: Path) -> None:
    acme = Tenant(scheduler.addr, TOKEN)
    acme.webhook_account("rate-hook")
    path = tmp_path / "burst.jsonl"
    path.write_text("".join(f'{{"account": "webhook:rate-hook", "text": "burst {i}"}}\n' for i in range(6_000)))
    code, out, err, took = postsched(scheduler, "import", str(path))
    assert code == 0, out[-2000:] + err
    assert summary(out).startswith("6000 created, 0 already there, 0 rejected")
    print(f"\nimport of 6,000 lines under the default limits (5,000 at once, then 500/s): {took:.2f} s")
    acme.close()
