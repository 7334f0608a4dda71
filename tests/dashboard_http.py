"""Plain HTTP to the admin service's dashboard, redirects not followed: for tests that look at
statuses, headers and cookies rather than pages."""

from __future__ import annotations

import urllib.error
import urllib.request

from postsched_devtools.processes import ServiceProcess


def request(admin: ServiceProcess, path: str, *, method: str = "GET", headers: dict | None = None,
            data: bytes | None = None) -> tuple[int, dict, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{admin.dashboard_port}{path}", method=method, data=data,
                                 headers=headers or {})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()
