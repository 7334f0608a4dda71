"""`postsched import` / `export` without processes: reading CSV and JSON Lines, each kind of line
error with its line number, the derived key, sending through a fake SchedulerService that keeps
the server's own rules (and one rule only it knows), the report, and export -> import."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import grpc
import pytest

from postsched import bulk_export, bulk_import
from postsched.messages import PLATFORM_FROM_API
from postsched.bulk_import import Accounts, ImportFileError, Options, Row
from postsched.errors import FieldViolation, InvalidArgument, NotFound, PostschedError, QuotaExceeded
from postsched.grpc_server import _rich_status, status_code_for
from postsched.v1 import resources_pb2, scheduler_pb2
from services.scheduler import validation

HOOK = str(uuid.uuid4())
GRAM = str(uuid.uuid4())
PAGE = str(uuid.uuid4())
SOON = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
AT = SOON.strftime("%Y-%m-%dT%H:%M:%SZ")
HEADER = "account,text,media_urls,link,scheduled_at,time_zone,idempotency_key\n"


class FakeRpcError(grpc.RpcError):
    def __init__(self, exc: PostschedError) -> None:
        self._code = status_code_for(exc)
        self._message = exc.message
        details = _rich_status(self._code, exc)
        self._trailing = (("grpc-status-details-bin", details),) if details else ()

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> Any:
        return self._trailing


class FakeScheduler:
    """SchedulerService's create and list, in memory, by the server's rules: the same
    validation, keys that return the first post, BatchCreatePosts all or nothing. A text with
    'server-says-no' breaks a rule only this server knows; `deleted` accounts are NOT_FOUND."""

    def __init__(self) -> None:
        self.accounts = [
            resources_pb2.Account(account_id=HOOK, platform=resources_pb2.WEBHOOK, external_id="Hook-1"),
            resources_pb2.Account(account_id=GRAM, platform=resources_pb2.INSTAGRAM, external_id="178414"),
            resources_pb2.Account(account_id=PAGE, platform=resources_pb2.FACEBOOK_PAGE, external_id="1234567890"),
        ]
        self.posts: dict[str, resources_pb2.Post] = {}  # post id -> post
        self.by_key: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.batches: list[int] = []
        self.refuse_with: PostschedError | None = None

    def list_accounts(self, page_token: str) -> scheduler_pb2.ListAccountsResponse:
        start = int(page_token or 0)  # pages of two, to check the paging
        return scheduler_pb2.ListAccountsResponse(
            accounts=self.accounts[start:start + 2],
            next_page_token=str(start + 2) if start + 2 < len(self.accounts) else "")

    def batch_create(self, requests: Sequence[scheduler_pb2.CreatePostRequest]) -> scheduler_pb2.BatchCreatePostsResponse:
        self.batches.append(len(requests))
        if self.refuse_with is not None:
            raise FakeRpcError(self.refuse_with)
        now = datetime.now(timezone.utc)
        violations: list[FieldViolation] = []
        platforms = {a.account_id: PLATFORM_FROM_API[a.platform] for a in self.accounts}
        for i, request in enumerate(requests):
            post, problems = validation.post_shape(request, now, f"requests[{i}].")
            violations.extend(problems)
            if post is not None:
                if request.account_id in self.deleted:
                    raise FakeRpcError(NotFound(f"requests[{i}].account_id: account {request.account_id} not found"))
                violations.extend(validation.platform_rules(post, platforms[request.account_id], f"requests[{i}]."))
            if "server-says-no" in request.text:
                violations.append(FieldViolation(f"requests[{i}].text", "a rule only the server knows"))
        if violations:
            raise FakeRpcError(InvalidArgument(violations))
        out = []
        for request in requests:
            if request.idempotency_key in self.by_key:
                out.append(self.posts[self.by_key[request.idempotency_key]])
                continue
            post = resources_pb2.Post(
                post_id=str(uuid.uuid4()), account_id=request.account_id, status=resources_pb2.SCHEDULED,
                text=request.text, media_urls=request.media_urls, link=request.link,
                idempotency_key=request.idempotency_key)
            post.scheduled_at.CopyFrom(request.scheduled_at if request.HasField("scheduled_at") else _stamp(now))
            post.created_at.CopyFrom(_stamp(now))
            self.posts[post.post_id] = post
            self.by_key[request.idempotency_key] = post.post_id
            out.append(post)
        return scheduler_pb2.BatchCreatePostsResponse(posts=out)

    def get_post(self, post_id: str) -> resources_pb2.Post:
        if post_id not in self.posts:
            raise FakeRpcError(NotFound(f"post {post_id} not found"))
        return self.posts[post_id]

    def list_posts(self, request: scheduler_pb2.ListPostsRequest) -> scheduler_pb2.ListPostsResponse:
        since, until = request.scheduled_from.ToDatetime(), request.scheduled_until.ToDatetime()
        posts = sorted((p for p in self.posts.values() if since <= p.scheduled_at.ToDatetime() < until),
                       key=lambda p: (p.scheduled_at.ToDatetime(), p.post_id))
        start = int(request.page_token or 0)
        size = 3  # small pages, to check the paging
        return scheduler_pb2.ListPostsResponse(
            posts=posts[start:start + size], next_page_token=str(start + size) if start + size < len(posts) else "")


def _stamp(at: datetime) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    out = Timestamp()
    out.FromDatetime(at)
    return out


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path: Path, server: FakeScheduler, dry_run: bool = False, **options: Any) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = bulk_import.run(Options(path, dry_run=dry_run, **options), server, out, err)
    return code, out.getvalue()


def checked(text: str, fmt: str = "csv") -> list[bulk_import.Checked]:
    stream = io.StringIO(text)
    _, rows = bulk_import.read_csv(stream) if fmt == "csv" else bulk_import.read_jsonl(stream)
    return bulk_import.check_rows(rows, Accounts.listed(FakeScheduler()), datetime.now(timezone.utc))


def errors_by_line(lines: list[bulk_import.Checked]) -> dict[int, str]:
    return {c.row.line: c.reason for c in lines if c.errors}


# --- reading


def test_csv_header_blank_lines_and_physical_line_numbers() -> None:
    text = (" Account ,TEXT\n"  # names are trimmed and case-insensitive
            f"webhook:Hook-1,first\n"
            "\n"
            f'webhook:Hook-1,"two\nlines"\n'
            f"{GRAM},no media\n")
    lines = checked(text)
    assert [c.row.line for c in lines] == [2, 4, 6]
    assert lines[1].request is not None and lines[1].request.text == "two\nlines"
    assert errors_by_line(lines) == {6: "media_urls: Instagram posts need at least one image or video URL"}


def test_unknown_columns_refuse_the_whole_file_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="'colour', 'size'"):
        run(write(tmp_path, "p.csv", "account,text,colour,size\n"), FakeScheduler())
    with pytest.raises(ImportFileError, match=r"'colour' \(line 2\)"):
        run(write(tmp_path, "p.jsonl", '{"account": "x"}\n{"account": "x", "colour": 1}\n'), FakeScheduler())
    # what export writes and what a report adds are read and ignored
    code, output = run(write(tmp_path, "ok.csv", f"post_id,status,account,text,line,reason\nx,SCHEDULED,{HOOK},hi,3,old\n"),
                       FakeScheduler(), dry_run=True)
    assert code == 0 and "1 lines valid, 0 with errors" in output


def test_format_from_extension_or_option(tmp_path: Path) -> None:
    assert bulk_import.file_format(Path("a.NDJSON"), None) == "jsonl"
    assert bulk_import.file_format(Path("a.txt"), "csv") == "csv"
    with pytest.raises(ImportFileError, match="--format"):
        bulk_import.file_format(Path("a.txt"), None)


def test_jsonl_values_and_line_problems() -> None:
    text = "\n".join([
        json.dumps({"account": "WEBHOOK:Hook-1", "text": "a", "media_urls": ["https://cdn.example.com/a b.jpg"]}),
        "{not json",
        json.dumps({"account": "instagram:178414", "media_urls": ["https://cdn.example.com/1.jpg"], "text": None}),
        json.dumps({"account": HOOK, "text": "a", "media_urls": "https://cdn.example.com/a.jpg"}),
        json.dumps(["a list"]),
        "",
        json.dumps({"account": HOOK, "text": 5}),
    ]) + "\n"
    lines = checked(text, "jsonl")
    problems = errors_by_line(lines)
    assert problems[1] == "media_urls[0]: must not contain spaces or control characters"  # one URL, not two
    assert problems[2].startswith("not valid JSON")
    assert 3 not in problems
    assert problems[4] == "media_urls: must be a list of URLs"
    assert problems[5] == "not a JSON object"
    assert problems[7] == "text: must be a string"


def test_csv_media_urls_are_whitespace_separated() -> None:
    (line,) = checked(HEADER + f"instagram:178414,,https://cdn.example.com/1.jpg  https://cdn.example.com/2.jpg,,{AT},,\n")
    assert line.request is not None
    assert list(line.request.media_urls) == ["https://cdn.example.com/1.jpg", "https://cdn.example.com/2.jpg"]


# --- each error kind, by line


def test_each_error_kind_with_its_line_number() -> None:
    text = HEADER + "".join([
        f"webhook:nobody,hi,,,{AT},,\n",                               # 2 unknown account
        f"{uuid.uuid4()},hi,,,{AT},,\n",                               # 3 unknown account (an id not the tenant's)
        f"myspace:Hook-1,hi,,,{AT},,\n",                               # 4 unknown platform
        "webhook:Hook-1,hi,,,2027-03-01T09:00:00,Mars/Olympus,\n",     # 5 bad time zone
        "instagram:178414,caption only,,,,,\n",                        # 6 Instagram without media
        "webhook:Hook-1,hi,,ftp://example.com/x,,,\n",                 # 7 bad URL
        "webhook:Hook-1,hi,,,,,key-1\n",                               # 8 fine
        "webhook:Hook-1,other,,,,,key-1\n",                            # 9 duplicate key
        "webhook:Hook-1,hi,,,next tuesday,,\n",                        # 10 bad timestamp
        "webhook:Hook-1,hi,,,2027-03-01T09:00:00,,\n",                 # 11 local time without a zone
        "webhook:Hook-1,hi,,,2027-03-01,UTC,\n",                       # 12 a date without a time
        f"webhook:Hook-1,hi,,,{(SOON + timedelta(days=500)).isoformat()},,\n",  # 13 too far ahead
        ",hi,,,,,\n",                                                  # 14 no account
        f"facebook_page:1234567890,{'x' * 70000},,,,,\n",              # 15 too long for Facebook
    ])
    problems = errors_by_line(checked(text))
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15]
    assert problems[2].startswith("account: unknown account 'webhook:nobody'")
    assert problems[3].startswith("account: unknown account")
    assert problems[4].startswith("account: unknown account 'myspace:Hook-1'")
    assert problems[5].startswith("time_zone: ") and "Mars/Olympus" in problems[5]
    assert problems[6] == "media_urls: Instagram posts need at least one image or video URL"
    assert problems[7] == "link: must be an absolute http:// or https:// URL"
    assert problems[9] == "idempotency_key: the same key as line 8"
    assert problems[10].startswith("scheduled_at: 'next tuesday' is not an ISO 8601")
    assert problems[11].startswith("scheduled_at: a local time needs a time_zone")
    assert problems[12].startswith("scheduled_at: '2027-03-01' is not an ISO 8601")
    assert problems[13] == "scheduled_at: must be at most 400 days ahead"
    assert problems[14].startswith("account: is required")
    assert problems[15].startswith("text: Facebook posts are at most")


def test_a_line_with_several_problems_reports_each(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", HEADER + "webhook:nobody,,,not-a-url,,Nowhere/Zone,\n")
    code, output = run(path, FakeScheduler(), dry_run=True)
    assert code == 1
    reported = [line for line in output.splitlines() if line.startswith("line 2: ")]
    assert {r.split(":")[1].strip() for r in reported} >= {"account", "time_zone", "text", "link"}
    assert output.splitlines()[-1].startswith("0 lines valid, 1 with errors")


def _next(month: int) -> int:
    """The year of the next 1st of `month` at least a day away (within 400 days)."""
    now = datetime.now(timezone.utc)
    return now.year if datetime(now.year, month, 1, tzinfo=timezone.utc) > now + timedelta(days=1) else now.year + 1


def test_local_time_and_zone_give_the_instant_an_offset_wins() -> None:
    winter, summer = _next(12), _next(7)
    text = HEADER + (f"webhook:Hook-1,winter,,,{winter}-12-01T09:00:00,Europe/Berlin,\n"
                     f"webhook:Hook-1,summer,,,{summer}-07-01 09:00,Europe/Berlin,\n"
                     f"webhook:Hook-1,offset,,,{AT.replace('Z', '+02:00')},America/New_York,\n"
                     f"webhook:Hook-1,names are exact,,,{summer}-07-01T09:00:00,europe/berlin,\n")
    lines = checked(text)
    ats = {c.row.line: (c.request.scheduled_at.ToDatetime(tzinfo=timezone.utc) if c.request else c.reason)
           for c in lines}
    assert ats[2] == datetime(winter, 12, 1, 8, tzinfo=timezone.utc)  # CET, UTC+1
    assert ats[3] == datetime(summer, 7, 1, 7, tzinfo=timezone.utc)  # CEST, UTC+2
    assert ats[4] == SOON - timedelta(hours=2)  # the offset decides; the zone is only checked
    assert ats[5] == "time_zone: unknown time zone 'europe/berlin' (an IANA name such as Europe/Berlin)"


# --- the derived key


def test_derived_key_is_the_content_not_how_it_is_written() -> None:
    berlin = SOON.astimezone(timezone(timedelta(hours=2))).isoformat()
    text = HEADER + (f"webhook:Hook-1,hi,,,{AT},,\n"
                     f"{HOOK},hi,,,{berlin},,\n"        # the same post, written differently
                     f"WEBHOOK:Hook-1,hi,,,{AT},,\n"    # and a third time
                     f"webhook:Hook-1,hello,,,{AT},,\n")
    keys = [c.request.idempotency_key for c in checked(text) if c.request]
    assert keys[0].startswith("import:") and len(keys[0]) < validation.MAX_KEY_LENGTH
    digest = keys[0].rsplit(":", 1)[0]
    assert keys[:3] == [f"{digest}:1", f"{digest}:2", f"{digest}:3"]  # identical lines stay three posts
    assert keys[3].rsplit(":", 1)[0] != digest


def test_derived_keys_survive_a_fix_and_an_inserted_line() -> None:
    before = HEADER + f"webhook:Hook-1,a,,,{AT},,\nwebhook:nobody,b,,,{AT},,\nwebhook:Hook-1,c,,,{AT},,\n"
    after = HEADER + (f"webhook:Hook-1,new line,,,{AT},,\n"
                      f"webhook:Hook-1,a,,,{AT},,\nwebhook:Hook-1,b,,,{AT},,\nwebhook:Hook-1,c,,,{AT},,\n")
    keys_before = {c.request.text: c.request.idempotency_key for c in checked(before) if c.request}
    keys_after = {c.request.text: c.request.idempotency_key for c in checked(after) if c.request}
    assert keys_after["a"] == keys_before["a"] and keys_after["c"] == keys_before["c"]
    assert keys_before == {t: bulk_import.derived_key(c.content, 1) for t, c in
                           ((c.request.text, c) for c in checked(before) if c.request)}


def test_a_given_key_is_kept() -> None:
    (line,) = checked(HEADER + "webhook:Hook-1,hi,,,,,my-key\n")
    assert line.request is not None and line.request.idempotency_key == "my-key"


# --- dry run and real run


def test_dry_run_sends_nothing(tmp_path: Path) -> None:
    server = FakeScheduler()
    path = write(tmp_path, "p.csv", HEADER + "webhook:Hook-1,hi,,,,,\ninstagram:178414,hi,,,,,\n")
    code, output = run(path, server, dry_run=True)
    assert code == 1 and server.batches == [] and server.posts == {}
    assert "line 3: media_urls: Instagram posts need at least one image or video URL" in output
    assert "1 lines valid, 1 with errors" in output
    assert not (tmp_path / "p.rejected.csv").exists()
    assert run(write(tmp_path, "ok.csv", HEADER + "webhook:Hook-1,hi,,,,,\n"), server, dry_run=True)[0] == 0


def test_real_run_batches_reports_and_reruns_without_duplicates(tmp_path: Path) -> None:
    server = FakeScheduler()
    lines = [f"webhook:Hook-1,post {i},,,{AT},," for i in range(23)]
    lines[4] = "instagram:178414,no media,,,,,"                       # line 6: refused here
    lines[9] = f"webhook:Hook-1,server-says-no {9},,,{AT},,"           # line 11: refused by the server
    lines[17] = f"webhook:Hook-1,server-says-no {17},,,{AT},,"         # line 19: refused by the server
    path = write(tmp_path, "posts.csv", HEADER + "\n".join(lines) + "\n")
    code, output = run(path, server, batch=10)
    assert code == 1
    assert len(server.posts) == 20
    assert "line 11: refused by the server: text: a rule only the server knows" in output
    assert output.splitlines()[-1].startswith("20 created, 0 already there, 3 rejected")
    with open(tmp_path / "posts.rejected.csv", newline="") as report:
        rows = list(__import__("csv").DictReader(report))
    assert [r["line"] for r in rows] == ["6", "11", "19"]
    assert rows[0]["text"] == "no media" and rows[0]["reason"].startswith("media_urls: Instagram")
    assert rows[1]["reason"] == "text: a rule only the server knows"
    # the same file again: nothing new
    code, output = run(path, server, batch=10)
    assert len(server.posts) == 20 and output.splitlines()[-1].startswith("0 created, 20 already there, 3 rejected")
    # the report, fixed, imported as it is
    fixed = (tmp_path / "posts.rejected.csv").read_text().replace("server-says-no", "fine").replace(
        "instagram:178414,no media,", "instagram:178414,no media,https://cdn.example.com/1.jpg")
    code, output = run(write(tmp_path, "fixed.csv", fixed), server)
    assert code == 0 and len(server.posts) == 23 and output.splitlines()[-1].startswith("3 created, 0 already")


def test_an_account_gone_since_the_listing_rejects_its_lines_only(tmp_path: Path) -> None:
    server = FakeScheduler()
    server.deleted.add(PAGE)
    path = write(tmp_path, "p.jsonl", "".join(json.dumps(r) + "\n" for r in [
        {"account": HOOK, "text": "a"}, {"account": "facebook_page:1234567890", "text": "b"}, {"account": HOOK, "text": "c"}]))
    code, output = run(path, server)
    assert code == 1 and sorted(p.text for p in server.posts.values()) == ["a", "c"]
    (entry,) = [json.loads(line) for line in (tmp_path / "p.rejected.jsonl").read_text().splitlines()]
    assert entry["line"] == 2 and entry["text"] == "b" and entry["reason"] == f"account: account {PAGE} not found"


def test_a_quota_rejects_the_lines_not_the_import(tmp_path: Path) -> None:
    server = FakeScheduler()
    server.refuse_with = QuotaExceeded("live_posts", "acme", "too many", value=5)
    code, output = run(write(tmp_path, "p.csv", HEADER + "webhook:Hook-1,a,,,,,\nwebhook:Hook-1,b,,,,,\n"), server,
                       report=tmp_path / "out.csv")
    assert code == 1 and "0 created, 0 already there, 2 rejected" in output
    assert "RESOURCE_EXHAUSTED" in (tmp_path / "out.csv").read_text()


def test_rate_limit_and_unavailable_are_waited_for() -> None:
    slow = FakeRpcError(QuotaExceeded("requests_per_second", "acme", "over 500 requests a second; retry in 0.42 s"))
    assert bulk_import.retry_wait(slow, 0) == pytest.approx(0.42)
    burst = FakeRpcError(QuotaExceeded("live_posts", "acme", "too many"))
    assert bulk_import.retry_wait(burst, 0) is None

    class Down(FakeRpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

    down = Down(NotFound("x"))
    assert bulk_import.retry_wait(down, 0) == 0.5 and bulk_import.retry_wait(down, 5) is None


def test_progress_on_a_terminal_and_in_a_log() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [0.0]
    tty = Terminal()
    progress = bulk_import.Progress(1000, tty, lambda: now[0])
    for step in range(1, 11):  # ten updates in one second: at most four drawn, plus the first
        now[0] = step / 10
        progress.update(step * 50)
    assert 3 <= tty.getvalue().count("\r") <= 5 and "\n" not in tty.getvalue()
    progress.update(1000, final=True)
    assert tty.getvalue().endswith("1000/1000 lines, 1000 posts/s, ETA -\x1b[K\n")
    log = io.StringIO()
    progress = bulk_import.Progress(1000, log, lambda: now[0])
    now[0] = 2.0
    progress.update(100)
    assert log.getvalue() == "100/1000 lines, 100 posts/s, ETA 9 s\n" and "\r" not in log.getvalue()
    now[0] = 10.0
    progress.update(1000)
    progress.update(1000, final=True)  # not twice
    assert log.getvalue().splitlines() == ["100/1000 lines, 100 posts/s, ETA 9 s", "1000/1000 lines, 111 posts/s, ETA -"]


def test_keyless_posts_from_an_export_are_found_by_id(tmp_path: Path) -> None:
    server = FakeScheduler()
    post = resources_pb2.Post(post_id=str(uuid.uuid4()), account_id=HOOK, text="made without a key")
    server.posts[post.post_id] = post
    path = write(tmp_path, "e.csv", f"post_id,account,text\n{post.post_id},{HOOK},made without a key\n"
                                    f"{uuid.uuid4()},{HOOK},from another tenant\n")
    code, output = run(path, server)
    assert code == 0 and output.splitlines()[-1].startswith("1 created, 1 already there, 0 rejected")


# --- export


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_import_creates_nothing_new(tmp_path: Path, fmt: str) -> None:
    server = FakeScheduler()
    text = HEADER + "".join(f"webhook:Hook-1,post {i} \"quoted\"; a, b,,https://example.com/{i},"
                            f"{(SOON + timedelta(minutes=i)).isoformat()},,\n" for i in range(7))
    text += f"instagram:178414,caption,https://cdn.example.com/1.jpg https://cdn.example.com/2.jpg,,{AT},,given-key\n"
    text = text.replace(',post ', ',"post ').replace('"quoted"; a, b,', '""quoted""; a, b",')
    assert run(write(tmp_path, "in.csv", text), server)[0] == 0
    assert len(server.posts) == 8
    options = bulk_export.ExportOptions(SOON - timedelta(days=1), SOON + timedelta(days=1), fmt=fmt)
    out = io.StringIO()
    assert bulk_export.write((bulk_export.row_of(p) for p in bulk_export.posts(server, options)), fmt, out) == 8
    exported = write(tmp_path, f"export.{fmt}", out.getvalue())
    code, output = run(exported, server)
    assert code == 0 and output.splitlines()[-1].startswith("0 created, 8 already there, 0 rejected")
    assert len(server.posts) == 8
    # rows read back as what they were
    _, rows = bulk_import.read_file(exported, fmt)
    assert {r.values["status"] for r in rows} == {"SCHEDULED"}
    gram = [r for r in rows if r.values["account"] == GRAM][0]
    assert gram.values["idempotency_key"] == "given-key" and gram.values["scheduled_at"] == AT
    media = gram.values["media_urls"]
    assert (media.split() if fmt == "csv" else media) == ["https://cdn.example.com/1.jpg", "https://cdn.example.com/2.jpg"]


def test_export_options() -> None:
    assert bulk_export.parse_instant("2027-03-01T00:00:00Z", "--from") == datetime(2027, 3, 1, tzinfo=timezone.utc)
    with pytest.raises(ImportFileError, match="no offset"):
        bulk_export.parse_instant("2027-03-01T00:00:00", "--from")
    with pytest.raises(ImportFileError, match="--status"):
        list(bulk_export.posts(FakeScheduler(), bulk_export.ExportOptions(SOON, SOON, status="DONE")))


def test_rows_keep_what_was_written_for_the_report() -> None:
    _, rows = bulk_import.read_csv(io.StringIO("account,text\nx,a,extra\n"))
    assert rows == [Row(2, {"account": "x", "text": "a"}, ["x", "a", "extra"], "3 fields, but the header has 2")]


def test_kind_and_first_comment_columns() -> None:
    """Optional columns: a Reel with a first comment; a feed post without either keeps the key
    it had before the columns existed; a wrong kind, or a comment under a Story, names its column."""
    header = "account,text,media_urls,scheduled_at,kind,first_comment\n"
    text = header + (f"facebook_page:1234567890,a reel,https://cdn.example.com/r.mp4,{AT},reel,#tags here\n"
                     f"facebook_page:1234567890,plain,,{AT},,\n"
                     f"facebook_page:1234567890,odd,,{AT},CAROUSEL,\n"
                     f"instagram:178414,,https://cdn.example.com/s.jpg,{AT},STORY,no comments on stories\n")
    lines = checked(text)
    reel = lines[0].request
    assert reel is not None and reel.kind == resources_pb2.REEL and reel.first_comment == "#tags here"
    plain_before = checked(HEADER + f"facebook_page:1234567890,plain,,,{AT},,\n")[0].request
    assert plain_before is not None and lines[1].request is not None
    assert lines[1].request.idempotency_key == plain_before.idempotency_key
    assert errors_by_line(lines) == {4: "kind: must be FEED, REEL or STORY (empty: FEED)",
                                     5: "first_comment: Stories take no comments"}
