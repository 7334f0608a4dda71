"""`postsched fake-meta` as a real process, and a client for its control API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from postsched.embedded import free_port, wait_for_port
from postsched_devtools.processes import ROOT


class FakeMeta:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.graph_url = self.base  # POSTSCHED_META_GRAPH_URL: the base; the version is the publisher's
        self.log_path = log_dir / f"fake-meta-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "FakeMeta":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "postsched.cli", "fake-meta", "--port", str(self.port)],
                stdout=log, stderr=log, cwd=ROOT, env=dict(os.environ),
            )
        wait_for_port("127.0.0.1", self.port, self.proc, self.log_path, timeout=30)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def fault(self, **fault: Any) -> None:
        self._call("POST", "/_control/faults", fault)

    def settings(self, **settings: Any) -> None:
        self._call("POST", "/_control/settings", settings)

    def reset(self) -> None:
        """Forgets everything: posts, calls, faults, settings and registered tokens."""
        self._call("POST", "/_control/reset")

    def page_posts(self, account: str, count: int, message: str = "by someone else {i}", kind: str = "feed") -> None:
        """Posts on a page that postsched did not make (kind "ig_media": an Instagram account's
        publications by another tool, counting towards its quota)."""
        self._call("POST", "/_control/page_posts", {"account": account, "count": count, "message": message,
                                                    "kind": kind})

    def token(self, token: str, *, is_valid: bool = True, expires_at: int = 0, data_access_expires_at: int = 0,
              scopes: list[str] | None = None) -> None:
        """Registers what Meta knows about a token (debug_token's answer; 0 = never expires; scopes
        default to all); is_valid False makes every call with it a 190/460."""
        body: dict[str, Any] = {"token": token, "is_valid": is_valid, "expires_at": expires_at,
                                "data_access_expires_at": data_access_expires_at}
        if scopes is not None:
            body["scopes"] = scopes
        self._call("POST", "/_control/tokens", body)

    def comments(self, node: str | None = None) -> dict[str, list[dict]]:
        """Every comment made, by the object it is under."""
        every = self._call("GET", "/_control/comments")["comments"]
        return every if node is None else {node: every.get(node, [])}

    def posts(self, account: str | None = None) -> list[dict]:
        """Posts postsched made (not those added with page_posts)."""
        posts = self._call("GET", "/_control/posts")["posts"]
        return [p for p in posts if (account is None or p["account"] == account) and not p.get("foreign")]

    def calls(self, account: str | None = None, endpoint: str | None = None) -> list[dict]:
        calls = self._call("GET", "/_control/calls")["calls"]
        return [c for c in calls if (account is None or c["account"] == account)
                and (endpoint is None or c["endpoint"] == endpoint)]

    def max_in_flight(self) -> dict[str, int]:
        """The most calls each account had in flight at once."""
        return self._call("GET", "/_control/concurrency")["max_in_flight"]

    def webhooks(self) -> list[dict]:
        return self._call("GET", "/_control/webhooks")["deliveries"]
