"""`postsched logs POST_ID`: one post's story from the logs of a `postsched up` run, every service's
lines in time order — those naming the post, and those of its trace (the trace id they carry)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

SHOWN_FIRST = ("post_id", "account_id", "attempt", "trace_id")
LEFT_OUT = {"timestamp", "service", "level", "event", "logger", "span_id", "post_ids", "posts"}


def _records(log_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(log_dir.glob("*.log")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.startswith("{"):
                    continue  # not a service's JSON line (fake-meta, PostgreSQL)
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield path.stem, record


def _about(record: dict[str, Any], post_id: str) -> dict[str, Any]:
    """The record as it concerns one post: a round's line ("posts": ["<post id>/<trace id>", ...])
    shows that post and its trace, not the whole round."""
    posts = record.get("posts")
    if isinstance(posts, list):
        mine = next((p for p in posts if isinstance(p, str) and p.startswith(post_id + "/")), None)
        if mine is not None:
            return {**record, "post_id": post_id, "trace_id": mine.partition("/")[2] or None}
    return record


def post_lines(log_dir: Path, post_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(service, record) of every line about the post or in its trace, oldest first."""
    records = [(service, r, post_id in json.dumps(r)) for service, r in _records(log_dir)]  # read once
    about = [(service, _about(r, post_id)) for service, r, names_it in records if names_it]
    traces = {r["trace_id"] for _, r in about if isinstance(r.get("trace_id"), str)}
    about += [(service, r) for service, r, names_it in records if not names_it and r.get("trace_id") in traces]
    return sorted(about, key=lambda item: str(item[1].get("timestamp", "")))


def format_line(service: str, record: dict[str, Any]) -> str:
    fields = [f"{k}={record[k]}" for k in SHOWN_FIRST if record.get(k) is not None]
    fields += [f"{k}={v}" for k, v in record.items() if k not in LEFT_OUT and k not in SHOWN_FIRST and v is not None]
    return (f"{record.get('timestamp', '?'):<27} {service:<10} {record.get('level', ''):<7} "
            f"{record.get('event', '')}  {' '.join(fields)}").rstrip()


def show(state_dir: Path, post_id: str) -> int:
    log_dir = state_dir / "logs"
    if not log_dir.is_dir():
        print(f"postsched: no logs in {log_dir}: `postsched logs` reads a `postsched up` state directory "
              "(--state-dir)")
        return 2
    lines = post_lines(log_dir, post_id)
    if not lines:
        print(f"postsched: no log line names post {post_id} in {log_dir}")
        return 1
    for service, record in lines:
        print(format_line(service, record))
    return 0
