"""`postsched export`: a tenant's posts in a range, as CSV or JSON Lines that `postsched import`
reads back (docs/import.md). The columns are import's, plus post_id and status (which import
ignores); every post is written with its idempotency_key, so importing the export into the same
tenant creates nothing new."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, TextIO

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.bulk_import import COLUMNS, Calls, ImportFileError, connect
from postsched.v1 import resources_pb2, scheduler_pb2

EXPORT_COLUMNS = ("post_id", *COLUMNS, "status")
PAGE = 1000


def parse_instant(text: str, option: str) -> datetime:
    """An ISO 8601 time with an offset (or Z), for --from / --until."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ImportFileError(f"{option}: {text!r} is not an ISO 8601 time (2027-03-01T00:00:00Z)") from None
    if at.tzinfo is None:
        raise ImportFileError(f"{option}: {text!r} has no offset; add Z or +01:00")
    return at.astimezone(timezone.utc)


def utc_text(stamp: Timestamp) -> str:
    """2027-03-01T09:00:00Z (fractions of a second only when there are some)."""
    at = stamp.ToDatetime(tzinfo=timezone.utc)
    text = at.isoformat(timespec="microseconds" if at.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def row_of(post: resources_pb2.Post) -> dict[str, object]:
    """A post as import reads it (media_urls a list; the CSV writer joins it with spaces)."""
    return {
        "post_id": post.post_id,
        "account": post.account_id,
        "text": post.text,
        "media_urls": list(post.media_urls),
        "link": post.link,
        "scheduled_at": utc_text(post.scheduled_at) if post.HasField("scheduled_at") else "",
        "time_zone": "",
        "idempotency_key": post.idempotency_key,
        "kind": resources_pb2.PostKind.Name(post.kind) if post.kind else "FEED",
        "first_comment": post.first_comment,
        "status": resources_pb2.PostStatus.Name(post.status),
    }


@dataclass
class ExportOptions:
    since: datetime
    until: datetime
    account_id: str = ""
    status: str = ""  # a PostStatus name; empty = all
    fmt: str = "csv"


def posts(calls: Calls, options: ExportOptions) -> Iterator[resources_pb2.Post]:
    """The tenant's posts scheduled in [since, until), in scheduled order, page by page."""
    since, until = Timestamp(), Timestamp()
    since.FromDatetime(options.since)
    until.FromDatetime(options.until)
    status = 0
    if options.status:
        try:
            status = resources_pb2.PostStatus.Value(options.status.upper())
        except ValueError:
            names = [n for n in resources_pb2.PostStatus.keys() if not n.endswith("UNSPECIFIED")]
            raise ImportFileError(f"--status: {options.status!r} is not one of {', '.join(names)}") from None
    token = ""
    while True:
        page = calls.list_posts(scheduler_pb2.ListPostsRequest(
            page_size=PAGE, page_token=token, status=status, account_id=options.account_id,  # type: ignore[arg-type]
            scheduled_from=since, scheduled_until=until))
        yield from page.posts
        token = page.next_page_token
        if not token:
            return


def write(rows: Iterator[dict[str, object]], fmt: str, out: TextIO) -> int:
    """Writes the rows; returns how many."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([" ".join(row[c]) if isinstance(row[c], list) else row[c]  # type: ignore[arg-type]
                             for c in EXPORT_COLUMNS])
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def run(options: ExportOptions, calls: Calls, output: Path | None, err: TextIO = sys.stderr) -> int:
    rows = (row_of(p) for p in posts(calls, options))
    if output is None:
        count = write(rows, options.fmt, sys.stdout)
        sys.stdout.flush()
    else:
        with open(output, "w", newline="" if options.fmt == "csv" else None, encoding="utf-8") as out:
            count = write(rows, options.fmt, out)
    err.write(f"{count} posts exported{f' to {output}' if output else ''}\n")
    return 0


def command(args: Any) -> int:
    """`postsched export` (arguments: postsched.cli.build_parser)."""
    options = ExportOptions(parse_instant(args.since, "--from"), parse_instant(args.until, "--until"),
                            args.account or "", args.status or "", args.format)
    channel, calls = connect(args.address, args.token)
    try:
        with channel:
            return run(options, calls, Path(args.output) if args.output else None)
    except grpc.RpcError as exc:
        sys.stderr.write(f"postsched: {args.address}: {exc.code().name}: {exc.details()}\n")
        return 2
