"""The dashboard's doors over plain HTTP and HTTPS, against a real admin process: security headers
on every answer, the Host check, server-side sessions (distinct per sign-in, ended by Sign out and
by a change of the operator's token), sign-in throttling, and the Secure cookie over TLS or behind
a declared proxy."""

from __future__ import annotations

import http.client
import ssl
import time
from pathlib import Path

import pytest

from postsched import throttle
from tests.certs import CertificateAuthority
from tests.conftest import ADMIN_TOKEN
from postsched_devtools.processes import ServiceProcess, Suite
from tests.dashboard_http import request

pytestmark = pytest.mark.e2e
ALICE = "alice-dashboard-token-0123456789abcdefg"
ALICE_NEXT = "alice-next-dashboard-token-0123456789ab"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sign_in(admin: ServiceProcess, token: str, **headers: str) -> tuple[int, dict]:
    status, answer, _ = request(admin, "/login", method="POST", data=f"token={token}".encode(), headers={**FORM, **headers})
    return status, answer


def session_of(answer: dict) -> dict[str, str]:
    return {"Cookie": answer["Set-Cookie"].split(";", 1)[0]}


def csrf_of(admin: ServiceProcess, session: dict[str, str]) -> str:
    body = request(admin, "/", headers=session)[2]
    return body.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_headers_host_check_sessions_and_sign_out(suite: Suite, tmp_path: Path) -> None:
    operators = tmp_path / "operators"
    operators.write_text(f"alice:{ALICE}\n")
    admin = suite.start("admin", POSTSCHED_ADMIN_TOKENS_FILE=str(operators),
                        POSTSCHED_DASHBOARD_HOSTS="dashboard.example.com,*.ops.example.com")

    # Every answer, whatever it is, forbids framing, inline script, sniffing and referrers.
    for path in ("/login", "/", "/api/overview", "/static/app.js", "/static/nothing"):
        status, headers, _ = request(admin, path)
        assert status in (200, 303, 401, 404), path
        assert "script-src 'self'" in headers["Content-Security-Policy"] and "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"

    # A DNS name that is not this dashboard's (a rebinding page) reaches nothing, not even the sign-in.
    for host in ("evil.example", "dashboard.example.com.evil.example", "ops.example.com"):
        assert request(admin, "/login", headers={"Host": host})[0] == 421, host
        assert sign_in(admin, ALICE, Host=host)[0] == 421
    for host in ("dashboard.example.com", "a.ops.example.com", f"localhost:{admin.dashboard_port}", "127.0.0.1", "[::1]:80"):
        assert request(admin, "/login", headers={"Host": host})[0] == 200, host

    # A ?token= link loaded by another site's page is not tried (it could spend the operator's
    # sign-in attempts); one opened by the operator is, and never redirects to another site.
    status, answer, _ = request(admin, f"/?token={ALICE}", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 303 and answer["Location"] == "/login" and "Set-Cookie" not in answer
    for i in range(10):
        request(admin, f"/?token=wrong-{i}", headers={"Sec-Fetch-Site": "cross-site"})
    assert "sign-in failed" not in admin.log()
    conn = http.client.HTTPConnection("127.0.0.1", admin.dashboard_port, timeout=10)
    conn.request("GET", f"/%2Fevil.example?token={ALICE}", headers={"Sec-Fetch-Site": "none"})
    answer = conn.getresponse()
    assert answer.status == 303 and answer.getheader("Location") == "/evil.example", answer.getheader("Location")
    conn.close()

    # Two sign-ins in the same second get different sessions; the table holds only digests.
    before = {bytes(row[0]) for row in suite.sql("SELECT id_digest FROM dashboard_sessions")}
    (s1, first), (s2, second) = sign_in(admin, ALICE), sign_in(admin, ALICE)
    assert s1 == s2 == 303
    one, two = session_of(first), session_of(second)
    assert one != two
    stored = [bytes(row[0]) for row in suite.sql("SELECT id_digest FROM dashboard_sessions")
              if bytes(row[0]) not in before]
    assert len(stored) == 2 and not any(one["Cookie"].split("=", 1)[1].encode() in d for d in stored)
    assert 'id="operator">alice<' in request(admin, "/", headers=one)[2]

    # Sign out: a POST with the page's CSRF token; without it, refused.
    assert request(admin, "/logout", method="POST", headers={**one, **FORM}, data=b"")[0] == 403
    status, answer, _ = request(admin, "/logout", method="POST", headers={**one, **FORM},
                                data=f"csrf={csrf_of(admin, one)}".encode())
    assert status == 303 and answer["Location"] == "/login"
    assert request(admin, "/", headers=one)[0] == 303  # that session is over on the server
    assert request(admin, "/", headers=two)[0] == 200  # the other one is not

    # A change of alice's token ends all of her sessions, without a restart.
    operators.write_text(f"alice:{ALICE_NEXT}\n")
    deadline = time.monotonic() + 5
    while request(admin, "/", headers=two)[0] == 200:
        assert time.monotonic() < deadline, "the session outlived its token"
        time.sleep(0.2)
    assert sign_in(admin, ALICE)[0] == 401 and sign_in(admin, ALICE_NEXT)[0] == 303
    # Bringing the old token back (a backup restored) does not bring its sessions back.
    operators.write_text(f"alice:{ALICE}\n")
    deadline = time.monotonic() + 5
    while sign_in(admin, ALICE)[0] != 303:
        assert time.monotonic() < deadline, "the restored token was not taken up"
        time.sleep(0.3)
    assert request(admin, "/", headers=two)[0] == 303
    log = admin.log()
    assert ALICE not in log and ALICE_NEXT not in log and '"operator": "alice"' in log


def test_sign_in_attempts_are_throttled_per_client_and_logged_without_the_token(suite: Suite) -> None:
    admin = suite.start("admin")
    for i in range(throttle.FREE_FAILURES):
        started = time.monotonic()
        assert sign_in(admin, f"guess-{i}")[0] == 401
        assert time.monotonic() - started < 1.0
    timings, statuses = [], []
    for i in range(12):
        started = time.monotonic()
        statuses.append(sign_in(admin, f"guess-again-{i}")[0])
        timings.append(time.monotonic() - started)
        if statuses[-1] == 429:
            break
    # Each wrong try waits longer than the one before (0.1 s, 0.2 s, 0.4 s, … up to 2 s).
    checked = [t for t, s in zip(timings, statuses) if s == 401]
    print("\ndashboard sign-in: wrong tries after the free ones took", ", ".join(f"{t:.2f}" for t in timings), "s")
    assert len(checked) >= 5 and all(b > a - 0.05 for a, b in zip(checked, checked[1:])), timings
    assert checked[1] >= 0.09 and max(checked) >= 1.5, timings
    # The right token from that address waits its turn too (or is told to come back), then works.
    deadline = time.monotonic() + 60
    while (status := sign_in(admin, ADMIN_TOKEN)[0]) == 429:
        assert time.monotonic() < deadline
        time.sleep(1)
    assert status == 303
    # Another client (behind a proxy it declared trusted) is not held up: see the next test.
    log = admin.log()
    assert log.count("sign-in failed") >= throttle.FREE_FAILURES and '"door": "dashboard"' in log
    assert "guess-" not in log


def test_the_cookie_is_secure_over_tls_and_behind_a_trusted_proxy(suite: Suite, tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    served = ca.issue("dashboard", client=False)
    admin = suite.start("admin", POSTSCHED_DASHBOARD_TLS_CERT=str(served.cert), POSTSCHED_DASHBOARD_TLS_KEY=str(served.key))
    context = ssl.create_default_context(cafile=str(ca.pem))
    conn = http.client.HTTPSConnection("localhost", admin.dashboard_port, context=context, timeout=10)
    conn.request("POST", "/login", body=f"token={ADMIN_TOKEN}", headers=FORM)
    answer = conn.getresponse()
    assert answer.status == 303
    cookie = answer.getheader("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert answer.getheader("Strict-Transport-Security")
    conn.close()

    proxied = suite.start("admin", POSTSCHED_DASHBOARD_TRUSTED_PROXIES="127.0.0.1/32")
    status, headers = sign_in(proxied, ADMIN_TOKEN, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert status == 303 and "Secure" in headers["Set-Cookie"]
    status, headers = sign_in(proxied, ADMIN_TOKEN)  # straight, over plain HTTP: no Secure (the browser would drop it)
    assert status == 303 and "Secure" not in headers["Set-Cookie"]
    # Behind the proxy, failures count against the client it names, not against the proxy.
    for i in range(throttle.FREE_FAILURES + 3):
        sign_in(proxied, f"guess-{i}", **{"X-Forwarded-For": "203.0.113.66"})
    started = time.monotonic()
    assert sign_in(proxied, "guess-x", **{"X-Forwarded-For": "203.0.113.7"})[0] == 401
    assert time.monotonic() - started < 1.0
    assert '"client": "203.0.113.66"' in proxied.log()
    # A proxy that adds a header line of its own instead of appending: the last line counts.
    conn = http.client.HTTPConnection("127.0.0.1", proxied.dashboard_port, timeout=10)
    conn.putrequest("POST", "/login")
    for name, value in (("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-For", "198.51.100.7:4433"),
                        ("Content-Type", FORM["Content-Type"]), ("Content-Length", "11")):
        conn.putheader(name, value)
    conn.endheaders(b"token=wrong")
    assert conn.getresponse().status == 401
    conn.close()
    assert '"client": "198.51.100.7"' in proxied.log() and '"client": "192.0.2.1"' not in proxied.log()
