"""`postsched import FILE`: a tenant's posts from CSV or JSON Lines, over gRPC (docs/import.md).

Every line is checked first by the server's own rules (services.scheduler.validation), with the
tenant's accounts listed once; a dry run stops there. A real run sends the valid lines through
BatchCreatePosts, 500 at a time; a line the server refuses for a reason only it knows is set aside
with that reason and the rest of its batch is sent again, so no single line stops an import.
Rejected lines go to a report file in the input's format, with `line` and `reason` added (import
ignores those two, so a fixed report can be imported as it is).

Safe to re-run: a line without an idempotency_key gets one derived from what it asks for (see
`derived_key`), so running the same file again, or again after fixing some lines, creates only the
posts that do not exist yet.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, TextIO

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2

from postsched import tls
from postsched.errors import ConfigError, PostschedError
from postsched.messages import PLATFORM_FROM_API
from postsched.timezones import UnknownTimeZone, instant, zone
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc
from services.scheduler import validation

COLUMNS = ("account", "text", "media_urls", "link", "scheduled_at", "time_zone", "idempotency_key", "kind",
           "first_comment")
KINDS = {"": resources_pb2.FEED, "FEED": resources_pb2.FEED, "REEL": resources_pb2.REEL, "STORY": resources_pb2.STORY}
# Written by `postsched export` (post_id, status) and by the report (line, reason); read and ignored.
IGNORED = ("post_id", "status", "line", "reason")
PLATFORMS = tuple(PLATFORM_FROM_API.values())
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
BATCH = 500
KEY_PREFIX = "import:"
TIMEOUT = 60.0
# Field names of the server's violations -> the file's columns.
FIELD_OF = {"account_id": "account"}
REQUEST_FIELD = re.compile(r"^requests\[(\d+)\]\.?(.*)$")
RETRY_IN = re.compile(r"retry in ([0-9.]+) s")
# Codes that refuse lines, not the import: set those lines aside, send the rest.
LINE_CODES = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
              grpc.StatusCode.RESOURCE_EXHAUSTED)


class ImportFileError(PostschedError):
    """The file cannot be imported."""


# ---------------------------------------------------------------------------------------------
# Reading the file


def file_format(path: Path, given: str | None) -> str:
    """csv or jsonl: `--format`, else the file's extension."""
    if given:
        return given
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise ImportFileError(f"{path}: cannot tell the format from the extension {path.suffix!r}; "
                              "name it .csv, .jsonl or .ndjson, or give --format csv|jsonl")
    return found


@dataclass
class Row:
    """One line of the file as written: `values` holds the known columns (str, or a list for
    JSONL's media_urls, or None for JSONL null), `original` what to write back to a report."""

    line: int
    values: dict[str, Any]
    original: Any  # CSV: list[str] (the fields); JSONL: the decoded object or the line's text
    problem: str = ""  # the line cannot be read at all (bad JSON, too many fields)


def _unknown(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in COLUMNS and c not in IGNORED]


def read_csv(stream: TextIO) -> tuple[list[str], list[Row]]:
    """The header (normalized) and the rows; blank lines are skipped, line numbers are physical
    (the header is line 1; a row with a quoted line break is numbered by its first line)."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("the file is empty: a CSV import needs a header row") from None
    columns = [name.strip().lower() for name in header]
    unknown = _unknown(columns)
    if unknown:
        raise ImportFileError(f"unknown column(s) {', '.join(map(repr, unknown))} in the header; "
                              f"the columns are {', '.join(COLUMNS)} ({', '.join(IGNORED)} are ignored)")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ImportFileError(f"column(s) {', '.join(map(repr, repeated))} appear more than once in the header")
    if "account" not in columns:
        raise ImportFileError("the header has no 'account' column")
    rows: list[Row] = []
    last = reader.line_num
    for fields in reader:
        line, last = last + 1, reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        row = Row(line, {c: (fields[i] if i < len(fields) else "") for i, c in enumerate(columns)}, fields)
        if len(fields) > len(columns):
            row.problem = f"{len(fields)} fields, but the header has {len(columns)}"
        rows.append(row)
    return columns, rows


def read_jsonl(stream: TextIO) -> tuple[list[str], list[Row]]:
    """The keys seen (in order) and the rows; a key outside the columns is an error for the file."""
    seen: dict[str, int] = {}
    rows: list[Row] = []
    for line, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            rows.append(Row(line, {}, text.rstrip("\r\n"), problem=f"not valid JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            rows.append(Row(line, {}, text.rstrip("\r\n"), problem="not a JSON object"))
            continue
        for key in value:
            seen.setdefault(key, line)
        rows.append(Row(line, dict(value), value))
    unknown = _unknown(list(seen))
    if unknown:
        where = ", ".join(f"{k!r} (line {seen[k]})" for k in unknown)
        raise ImportFileError(f"unknown key(s) {where}; the keys are {', '.join(COLUMNS)} ({', '.join(IGNORED)} are ignored)")
    return list(seen), rows


def read_file(path: Path, fmt: str) -> tuple[list[str], list[Row]]:
    try:
        # utf-8-sig: spreadsheets often start a CSV with a byte-order mark
        with open(path, newline="" if fmt == "csv" else None, encoding="utf-8-sig") as stream:
            return read_csv(stream) if fmt == "csv" else read_jsonl(stream)
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ImportFileError(f"{path}: not readable as CSV: {exc}") from None


# ---------------------------------------------------------------------------------------------
# The server's side: one narrow interface, so tests can fake it


class Calls(Protocol):
    """The SchedulerService calls import and export make, with the tenant's token."""

    def list_accounts(self, page_token: str) -> scheduler_pb2.ListAccountsResponse: ...
    def batch_create(self, requests: Sequence[scheduler_pb2.CreatePostRequest]) -> scheduler_pb2.BatchCreatePostsResponse: ...
    def get_post(self, post_id: str) -> resources_pb2.Post: ...
    def list_posts(self, request: scheduler_pb2.ListPostsRequest) -> scheduler_pb2.ListPostsResponse: ...


class GrpcCalls:
    """Calls over a channel. A call over the tenant's request rate is retried after the wait the
    server names; an unavailable server a few times with backoff (every create carries a key, so
    a retried batch cannot create twice)."""

    def __init__(self, channel: grpc.Channel, token: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self._stub = scheduler_pb2_grpc.SchedulerServiceStub(channel)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._sleep = sleep

    def _call(self, method: str, request: Any) -> Any:
        unavailable = 0
        while True:
            try:
                return getattr(self._stub, method)(request, metadata=self._metadata, timeout=TIMEOUT)
            except grpc.RpcError as exc:
                wait = retry_wait(exc, unavailable)
                if wait is None:
                    raise
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    unavailable += 1
                self._sleep(wait)

    def list_accounts(self, page_token: str) -> scheduler_pb2.ListAccountsResponse:
        reply: scheduler_pb2.ListAccountsResponse = self._call(
            "ListAccounts", scheduler_pb2.ListAccountsRequest(page_size=1000, page_token=page_token))
        return reply

    def batch_create(self, requests: Sequence[scheduler_pb2.CreatePostRequest]) -> scheduler_pb2.BatchCreatePostsResponse:
        reply: scheduler_pb2.BatchCreatePostsResponse = self._call(
            "BatchCreatePosts", scheduler_pb2.BatchCreatePostsRequest(requests=requests))
        return reply

    def get_post(self, post_id: str) -> resources_pb2.Post:
        reply: resources_pb2.Post = self._call("GetPost", scheduler_pb2.GetPostRequest(post_id=post_id))
        return reply

    def list_posts(self, request: scheduler_pb2.ListPostsRequest) -> scheduler_pb2.ListPostsResponse:
        reply: scheduler_pb2.ListPostsResponse = self._call("ListPosts", request)
        return reply


def retry_wait(error: grpc.RpcError, unavailable_so_far: int) -> float | None:
    """Seconds to wait before the same call again, or None when it is not worth retrying."""
    code = error.code()
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "requests_per_second" in _quota_ids(error):
        found = RETRY_IN.search(error.details() or "")
        wait = float(found.group(1)) if found else 1.0
        return min(max(wait, 0.05), 10.0)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and unavailable_so_far < 5:
        return 0.5 * 2.0 ** unavailable_so_far
    return None


def _status_details(error: grpc.RpcError) -> list[Any]:
    trailing: Any = error.trailing_metadata() or ()
    for key, value in trailing:
        if key == "grpc-status-details-bin":
            return list(status_pb2.Status.FromString(value).details)
    return []


def _quota_ids(error: grpc.RpcError) -> list[str]:
    ids: list[str] = []
    for detail in _status_details(error):
        failure = error_details_pb2.QuotaFailure()
        if detail.Unpack(failure):
            ids.extend(v.quota_id for v in failure.violations)
    return ids


def refused_items(error: grpc.RpcError) -> dict[int, list[tuple[str, str]]]:
    """Which items of a refused batch the server named, {index: [(column, description), ...]}:
    INVALID_ARGUMENT's BadRequest violations `requests[i].field` (at most 20 are listed; the next
    attempt names the others) or NOT_FOUND's `requests[i].account_id: ...` message."""
    named: dict[int, list[tuple[str, str]]] = {}
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        for detail in _status_details(error):
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                for violation in bad.field_violations:
                    found = REQUEST_FIELD.match(violation.field)
                    if found:
                        named.setdefault(int(found.group(1)), []).append((_column(found.group(2)), violation.description))
    elif error.code() == grpc.StatusCode.NOT_FOUND:
        found = REQUEST_FIELD.match(error.details() or "")
        if found:
            name, _, text = found.group(2).partition(": ")
            named[int(found.group(1))] = [(_column(name), text)] if text else [("", found.group(2))]
    return named


def _column(field_name: str) -> str:
    base, bracket, rest = field_name.partition("[")
    return FIELD_OF.get(base, base) + bracket + rest


# ---------------------------------------------------------------------------------------------
# Checking each line


@dataclass(frozen=True)
class Accounts:
    """The tenant's accounts: by id and by (platform, external_id)."""

    by_id: dict[str, str]  # account id -> platform
    by_ref: dict[tuple[str, str], str]  # (platform, external_id) -> account id

    @classmethod
    def listed(cls, calls: Calls) -> "Accounts":
        by_id: dict[str, str] = {}
        by_ref: dict[tuple[str, str], str] = {}
        token = ""
        while True:
            page = calls.list_accounts(token)
            for account in page.accounts:
                platform = PLATFORM_FROM_API.get(account.platform, "")
                by_id[account.account_id] = platform
                by_ref[(platform, account.external_id)] = account.account_id
            token = page.next_page_token
            if not token:
                return cls(by_id, by_ref)

    def resolve(self, value: str) -> tuple[str, str] | str:
        """(account id, platform), or why not."""
        value = value.strip()
        if not value:
            return "is required: an account id, or platform:external_id"
        try:
            account_id = str(uuid.UUID(value))
        except ValueError:
            platform, colon, external_id = value.partition(":")
            platform = platform.strip().lower()
            if not colon or platform not in PLATFORMS:
                return f"unknown account {value[:80]!r}: give an account id, or platform:external_id with " \
                       f"platform one of {', '.join(PLATFORMS)}"
            found = self.by_ref.get((platform, external_id.strip()))
            if found is None:
                return f"unknown account {value[:80]!r}: no {platform} account with external id {external_id.strip()[:80]!r}"
            return found, platform
        if account_id not in self.by_id:
            return f"unknown account {value!r}: no account with this id"
        return account_id, self.by_id[account_id]


@dataclass
class Checked:
    """A line, checked: its request when valid, else its errors as (column, description)."""

    row: Row
    request: scheduler_pb2.CreatePostRequest | None = None
    platform: str = ""
    errors: list[tuple[str, str]] = field(default_factory=list)
    content: str = ""  # the normalized line the derived key is made from

    @property
    def reason(self) -> str:
        return "; ".join(f"{column}: {text}" if column else text for column, text in self.errors)


def _text(row: Row, column: str, errors: list[tuple[str, str]]) -> str:
    value = row.values.get(column)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append((column, "must be a string"))
        return ""
    return value


def _media(row: Row, errors: list[tuple[str, str]]) -> list[str]:
    value = row.values.get("media_urls")
    if value is None:
        return []
    if isinstance(value, str):
        if isinstance(row.original, dict):  # JSONL: a list, so a URL with a space is not two
            errors.append(("media_urls", "must be a list of URLs"))
            return []
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    errors.append(("media_urls", "must be a list of URLs"))
    return []


def scheduled_instant(text: str, zone_name: str, errors: list[tuple[str, str]]) -> datetime | None:
    """The UTC instant of scheduled_at (None: empty, as soon as possible; or a problem in errors).
    An offset decides the instant; a civil time without one is read in time_zone (RFC 5545's rule
    for a time that does not exist or exists twice: postsched.timezones.instant)."""
    place = None
    if zone_name:
        try:
            place = zone(zone_name)
        except UnknownTimeZone as exc:
            errors.append(("time_zone", str(exc) or f"unknown time zone {zone_name!r}"))
    if not text:
        return None
    try:
        if len(text) < 11:
            raise ValueError("no time of day")
        at = datetime.fromisoformat(text)
    except ValueError:
        errors.append(("scheduled_at", f"{text[:80]!r} is not an ISO 8601 date and time "
                       "(2027-03-01T09:00:00Z, or a local 2027-03-01T09:00:00 with a time_zone)"))
        return None
    if at.tzinfo is not None:
        return at.astimezone(timezone.utc)
    if not zone_name:
        errors.append(("scheduled_at", "a local time needs a time_zone (an IANA name such as Europe/Berlin), "
                       "or give an offset (Z, +01:00)"))
        return None
    if place is None:
        return None
    return instant(at, place).astimezone(timezone.utc)


def normalized(account_id: str, request: scheduler_pb2.CreatePostRequest) -> str:
    """What a line asks for, independent of how it is written: the account by id, the instant in
    UTC. The derived key is made from this."""
    at = request.scheduled_at.ToJsonString() if request.HasField("scheduled_at") else ""
    content: list[object] = [account_id, request.text, list(request.media_urls), request.link, at]
    if request.kind not in (resources_pb2.POST_KIND_UNSPECIFIED, resources_pb2.FEED) or request.first_comment:
        # Only when given: a feed post without a comment keeps the key it had before these columns.
        content += [resources_pb2.PostKind.Name(request.kind), request.first_comment]
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


def derived_key(content: str, occurrence: int) -> str:
    """The idempotency key of a line that has none: its normalized content's digest, and which
    occurrence of that same content in the file it is (1, 2, ...). Re-running the file, or running
    it after fixing some lines or inserting new ones, gives every unchanged line the key it had,
    so the server returns the post it made the first time instead of a second one; two identical
    lines stay two posts. (A line number would move with every line inserted above it.)"""
    digest = hashlib.sha256(content.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}{digest}:{occurrence}"


def check_row(row: Row, accounts: Accounts, now: datetime) -> Checked:
    checked = Checked(row)
    errors = checked.errors
    if row.problem:
        errors.append(("", row.problem))
        return checked
    account = _text(row, "account", errors)
    text = _text(row, "text", errors)
    media = _media(row, errors)
    link = _text(row, "link", errors).strip()
    key = _text(row, "idempotency_key", errors).strip()
    kind = KINDS.get(_text(row, "kind", errors).strip().upper())
    if kind is None:
        errors.append(("kind", "must be FEED, REEL or STORY (empty: FEED)"))
    first_comment = _text(row, "first_comment", errors)
    at = scheduled_instant(_text(row, "scheduled_at", errors).strip(), _text(row, "time_zone", errors).strip(), errors)
    resolved = accounts.resolve(account)
    if isinstance(resolved, str):
        errors.append(("account", resolved))
        account_id, platform = str(uuid.UUID(int=0)), ""  # the other columns are still checked
    else:
        account_id, platform = resolved
    request = scheduler_pb2.CreatePostRequest(account_id=account_id, text=text, media_urls=media, link=link,
                                              idempotency_key=key, kind=kind or resources_pb2.FEED,
                                              first_comment=first_comment)
    if at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(at)
        request.scheduled_at.CopyFrom(stamp)
    new_post, violations = validation.post_shape(request, now, "")
    if new_post is not None and platform:
        violations = validation.platform_rules(new_post, platform, "")
    named = {column for column, _ in errors}  # a column already wrong is not wrong twice
    errors.extend((_column(v.field), v.description) for v in violations if _column(v.field) not in named)
    if not errors:
        checked.request, checked.platform = request, platform
        checked.content = normalized(account_id, request)
    return checked


def check_rows(rows: Sequence[Row], accounts: Accounts, now: datetime) -> list[Checked]:
    """Every line checked, duplicate keys found (the later line is the bad one), and the lines
    without a key given theirs."""
    out: list[Checked] = []
    first_with_key: dict[str, int] = {}
    occurrences: dict[str, int] = {}
    for row in rows:
        checked = check_row(row, accounts, now)
        key = row.values.get("idempotency_key")
        if isinstance(key, str) and key.strip():
            first = first_with_key.setdefault(key.strip(), row.line)
            if first != row.line:
                checked.errors.append(("idempotency_key", f"the same key as line {first}"))
                checked.request = None
        elif checked.request is not None:
            seen = occurrences[checked.content] = occurrences.get(checked.content, 0) + 1
            checked.request.idempotency_key = derived_key(checked.content, seen)
        out.append(checked)
    return out


# ---------------------------------------------------------------------------------------------
# Sending


class Progress:
    """lines done/total, posts/s and ETA on stderr: one line redrawn with \\r at most 4 times a
    second on a terminal, a plain line every PLAIN_EVERY seconds otherwise."""

    PLAIN_EVERY = 5.0

    def __init__(self, total: int, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._total = total
        self._stream = stream
        self._clock = clock
        self._tty = stream.isatty()
        self._start = clock()
        self._shown = -1e9
        self._shown_done = -1

    def update(self, done: int, final: bool = False) -> None:
        now = self._clock()
        if not final and now - self._shown < (0.25 if self._tty else self.PLAIN_EVERY):
            return
        if final and not self._tty and done == self._shown_done:
            return  # a log has this line already
        self._shown, self._shown_done = now, done
        elapsed = max(now - self._start, 1e-6)
        rate = done / elapsed
        eta = f"{(self._total - done) / rate:.0f} s" if rate > 0 and done < self._total else "-"
        text = f"{done}/{self._total} lines, {rate:.0f} posts/s, ETA {eta}"
        if self._tty:
            self._stream.write(f"\r{text}\x1b[K" + ("\n" if final else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


@dataclass
class Outcome:
    created: int = 0
    already: int = 0
    rejected: list[Checked] = field(default_factory=list)


def send(calls: Calls, lines: Sequence[Checked], started: datetime, progress: Progress | None = None,
         batch: int = BATCH) -> Outcome:
    """Sends the valid lines in batches; what the server refuses is set aside with its reason."""
    outcome = Outcome()
    started_at = Timestamp()
    started_at.FromDatetime(started)
    for start in range(0, len(lines), batch):
        pending = list(lines[start:start + batch])
        while pending:
            try:
                reply = calls.batch_create([c.request for c in pending if c.request is not None])
            except grpc.RpcError as exc:
                if exc.code() not in LINE_CODES:
                    raise  # the import's problem (a token, the server), not a line's
                named = {i: reasons for i, reasons in refused_items(exc).items() if i < len(pending)}
                if not named and exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    for c in pending:  # a quota of the tenant's (live posts): these lines, not the import
                        c.errors.append(("", f"{exc.code().name}: {exc.details()}"))
                    outcome.rejected.extend(pending)
                    break
                if not named and len(pending) > 1:
                    # refused without naming an item: one at a time finds the ones
                    for single in pending:
                        one = send(calls, [single], started, None, 1)
                        outcome.created += one.created
                        outcome.already += one.already
                        outcome.rejected.extend(one.rejected)
                    break
                if not named:  # a rule of the server's (a quota, say): this line, not the import
                    named = {0: [("", f"{exc.code().name}: {exc.details()}")]}
                for index, reasons in sorted(named.items()):
                    pending[index].errors.extend(reasons)
                    outcome.rejected.append(pending[index])
                pending = [c for i, c in enumerate(pending) if i not in named]
                continue
            for post in reply.posts:
                if post.HasField("created_at") and post.created_at.ToNanoseconds() < started_at.ToNanoseconds():
                    outcome.already += 1
                else:
                    outcome.created += 1
            pending = []
        if progress is not None:
            progress.update(min(start + batch, len(lines)))
    return outcome


def check_known_posts(calls: Calls, lines: Sequence[Checked]) -> int:
    """Lines that carry a post_id (an export) but no idempotency_key: a post the server made
    without a key has none to match, so its id is looked up instead; when it is the tenant's,
    the line is already there and is not sent. Returns how many were."""
    already = 0
    for checked in lines:
        post_id = checked.row.values.get("post_id")
        given_key = checked.row.values.get("idempotency_key")
        if checked.request is None or not isinstance(post_id, str) or not post_id.strip() or (
                isinstance(given_key, str) and given_key.strip()):
            continue
        try:
            calls.get_post(post_id.strip())
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                continue
            raise
        checked.request = None
        already += 1
    return already


# ---------------------------------------------------------------------------------------------
# The report


def report_path(path: Path, fmt: str) -> Path:
    """posts.csv -> posts.rejected.csv (posts.ndjson -> posts.rejected.jsonl)."""
    return path.with_name(f"{path.stem}.rejected.{'csv' if fmt == 'csv' else 'jsonl'}")


def write_report(path: Path, fmt: str, header: Sequence[str], rejected: Sequence[Checked]) -> None:
    """The rejected lines as written, with `line` and `reason` added, in line order."""
    ordered = sorted(rejected, key=lambda c: c.row.line)
    with open(path, "w", newline="" if fmt == "csv" else None, encoding="utf-8") as out:
        if fmt == "csv":
            kept = [c for c in header if c not in ("line", "reason")]
            writer = csv.writer(out)
            writer.writerow([*kept, "line", "reason"])
            for checked in ordered:
                fields = checked.row.original if isinstance(checked.row.original, list) else []
                by_name = dict(zip(header, fields))
                writer.writerow([by_name.get(c, "") for c in kept] + [checked.row.line, checked.reason])
        else:
            for checked in ordered:
                original = checked.row.original
                entry = dict(original) if isinstance(original, dict) else {"text_as_written": original}
                entry.pop("line", None)
                entry.pop("reason", None)
                entry.update(line=checked.row.line, reason=checked.reason)
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# The command


@dataclass
class Options:
    path: Path
    fmt: str | None = None
    dry_run: bool = False
    report: Path | None = None
    batch: int = BATCH


def run(options: Options, calls: Calls, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic) -> int:
    """The import; 0 when no line was rejected, 1 otherwise."""
    began = clock()
    fmt = file_format(options.path, options.fmt)
    header, rows = read_file(options.path, fmt)
    accounts = Accounts.listed(calls)
    now = datetime.now(timezone.utc)
    checked = check_rows(rows, accounts, now)
    bad = [c for c in checked if c.errors]
    for c in bad:
        for column, text in c.errors:
            out.write(f"line {c.row.line}: {column + ': ' if column else ''}{text}\n")
    checked_in = clock() - began
    if options.dry_run:
        rate = len(rows) / max(checked_in, 1e-6)
        out.write(f"{len(rows) - len(bad)} lines valid, {len(bad)} with errors "
                  f"({len(rows)} lines checked in {checked_in:.1f} s, {rate:.0f} lines/s; nothing was sent)\n")
        return 1 if bad else 0
    good = [c for c in checked if not c.errors]
    known = check_known_posts(calls, good)
    to_send = [c for c in good if c.request is not None]
    started = datetime.now(timezone.utc)
    progress = Progress(len(to_send), err, clock)
    outcome = send(calls, to_send, started, progress, options.batch)
    if to_send:
        progress.update(len(to_send), final=True)
    for c in outcome.rejected:
        out.write(f"line {c.row.line}: refused by the server: {c.reason}\n")
    rejected = bad + outcome.rejected
    report = options.report or report_path(options.path, fmt)
    if rejected:
        write_report(report, fmt, header, rejected)
    elapsed = clock() - began
    out.write(f"{outcome.created} created, {outcome.already + known} already there, {len(rejected)} rejected"
              f"{f' (written to {report})' if rejected else ''}; {len(rows)} lines in {elapsed:.1f} s "
              f"({len(rows) / max(elapsed, 1e-6):.0f} lines/s)\n")
    return 1 if rejected else 0


def connect(address: str, token: str | None) -> tuple[grpc.Channel, GrpcCalls]:
    """A channel to the scheduler (TLS as `postsched health`: POSTSCHED_TLS_*) and the tenant's calls."""
    token = token or os.environ.get("POSTSCHED_TOKEN", "")
    if not token:
        raise ConfigError("no tenant token: give --token or set POSTSCHED_TOKEN "
                          "(under `postsched up`: export POSTSCHED_TOKEN=$(postsched token))")
    channel = tls.channel(address, os.environ)
    return channel, GrpcCalls(channel, token)


def command(args: Any) -> int:
    """`postsched import` (arguments: postsched.cli.build_parser)."""
    channel, calls = connect(args.address, args.token)
    try:
        with channel:
            return run(Options(Path(args.file), args.format, args.dry_run, args.report), calls)
    except grpc.RpcError as exc:
        sys.stderr.write(f"postsched: {args.address}: {exc.code().name}: {exc.details()}\n")
        return 2
