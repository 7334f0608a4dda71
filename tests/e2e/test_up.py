"""`postsched up`: the suite on embedded defaults, its printed example, clean Ctrl-C, and restart keeping posts."""

from __future__ import annotations


import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from postsched.embedded import free_port
from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.nats_login import login
from tests.waiting import until
from postsched_devtools.processes import ROOT

# `postsched up` listens on the default ports: its tests run one after another, on one worker.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("default_ports")]


_OTHER_PORTS: dict[str, int] = {}


def _start_up(state_dir: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSCHED_")}
    env["POSTSCHED_SCHEDULER_ADDR"] = f"127.0.0.1:{port}"
    # The other gRPC defaults (50052-50054) lie in Linux's ephemeral range, where another test
    # process's outgoing connection may hold one: free ports, kept from one start to the next.
    for name in ("dispatcher", "publisher", "admin"):
        env[f"POSTSCHED_{name.upper()}_ADDR"] = f"127.0.0.1:{_OTHER_PORTS.setdefault(name, free_port())}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "postsched.cli", "up", "--state-dir", str(state_dir)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return proc, "".join(lines)
    proc.kill()
    rest, _ = proc.communicate()  # closes the pipe too
    raise AssertionError("postsched up did not come up:\n" + "".join(lines) + (rest or ""))


def _processes_using(state_dir: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) in text:
            found.append(text)
    return found


def _nats_refuses(url: str, state_dir: Path) -> bool:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    users = json.loads((state_dir / "nats-users.json").read_text())
    assert (state_dir / "nats-users.json").stat().st_mode & 0o077 == 0  # readable by its owner only
    assert "Authorization Violation" in login(host, int(port))
    assert "Authorization Violation" in login(host, int(port), "publisher", "wrong")
    return login(host, int(port), "admin", users["services"]["admin"]) == "PONG"


def _grpcurl_example(banner: str) -> str:
    match = re.search(r"^\s+(\S*grpcurl .*\\\n\s+.*CreatePost)$", banner, re.M)
    assert match, banner
    return match.group(1)


def _fake_meta_url(banner: str) -> str:
    match = re.search(r"fake-meta\s+(http://\S+)\s", banner)
    assert match, banner
    return match.group(1)


def _stop(proc: subprocess.Popen, state_dir: Path) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert _processes_using(state_dir) == []
    return out


def test_up_example_ctrl_c_and_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    port = free_port()
    # The printed command must work as printed: no virtual environment on the PATH.
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": ":".join(p for p in os.environ["PATH"].split(":") if p != venv_bin)}
    proc, banner = _start_up(state_dir, port)
    try:
        # Random tokens of 43 characters, kept (owner-only) in the state directory; `postsched token` prints them.
        config = json.loads((state_dir / "config.json").read_text())
        tenant_token = config["POSTSCHED_API_TOKENS"].partition(":")[2]
        assert config["POSTSCHED_API_TOKENS"].startswith("demo:") and len(tenant_token) >= 32
        assert (state_dir / "config.json").stat().st_mode & 0o077 == 0
        assert f"localhost:{port}" in banner and tenant_token in banner and config["POSTSCHED_ADMIN_TOKEN"] in banner
        for args, expected in (([], tenant_token), (["--admin"], config["POSTSCHED_ADMIN_TOKEN"])):
            printed = subprocess.run([sys.executable, "-m", "postsched.cli", "token", "--state-dir", str(state_dir), *args],
                                     capture_output=True, text=True, timeout=30, env=env)
            assert printed.stdout.strip() == expected, printed.stderr
        example = _grpcurl_example(banner)
        result = subprocess.run(["bash", "-c", example], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        post = json.loads(result.stdout)
        assert post["status"] == "SCHEDULED" and post["text"] == "Hello from postsched"
        # The suite publishes it, to its own fake-meta.
        get = example.replace("SchedulerService/CreatePost", "SchedulerService/GetPost")
        get = re.sub(r"-d '\{.*?\}'", f"-d '{{\"post_id\": \"{post['post_id']}\"}}'", get)
        deadline = time.monotonic() + 30
        while True:
            state = json.loads(subprocess.run(["bash", "-c", get], capture_output=True, text=True, env=env).stdout)
            if state["status"] == "PUBLISHED" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert state["status"] == "PUBLISHED" and state["platform_post_id"].startswith("1000000001_")
        # Its story without Jaeger: every service's lines and every processing-log entry carry its trace id.
        database = re.search(r"postgres\s+(postgresql://\S+)", banner).group(1)  # type: ignore[union-attr]
        with psycopg.connect(database) as conn:
            traces = {t for (t,) in conn.execute("SELECT trace_id FROM processing_logs WHERE post_id = %s",
                                                 (post["post_id"],))}
        assert len(traces) == 1 and None not in traces, traces
        story = subprocess.run([sys.executable, "-m", "postsched.cli", "logs", post["post_id"], "--state-dir",
                                str(state_dir)], capture_output=True, text=True, timeout=30, env=env)
        assert story.returncode == 0, story.stdout + story.stderr
        lines = story.stdout.splitlines()
        assert lines == sorted(lines)  # in time order (each line starts with its time)
        trace = traces.pop()
        for service, event in (("scheduler", "posts created"), ("dispatcher", "posts handed over"),
                               ("publisher", "post published")):
            assert any(line.split()[1] == service and event in line and f"trace_id={trace}" in line
                       for line in lines), (service, event, story.stdout)
        # The dashboard link it prints signs in and shows the queue.
        dashboard = re.search(r"dashboard\s+(http://\S+\?token=\S+)", banner).group(1)  # type: ignore[union-attr]
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(dashboard, timeout=10) as response:
            assert response.status == 200 and "?token=" not in response.url and "Queue" in response.read().decode()
        # No tracing UI here: the post's page has no trace column, and names its trace and `postsched logs`.
        with opener.open(dashboard.split("/?")[0] + f"/posts/{post['post_id']}", timeout=10) as response:
            page = response.read().decode()
        assert "<th>message</th></tr>" in page and f"postsched logs {post['post_id']}" in page and trace in page
        # Its NATS is locked: nobody gets in without one of the users kept in the state directory.
        nats_url = re.search(r"nats\s+(nats://\S+)\s+\(locked", banner).group(1)  # type: ignore[union-attr]
        assert _nats_refuses(nats_url, state_dir)
        # fake-meta is named for what it is, on the port the README uses, with its control API.
        fake = _fake_meta_url(banner)
        assert "stand-in for the Meta Graph API" in banner and fake == "http://127.0.0.1:8089"
        assert f"{fake}/_control/posts" in banner
        # A webhook account aimed at fake-meta's receiver, to publish to after a restart.
        demo = Tenant(f"127.0.0.1:{port}", tenant_token)
        hook = demo.CreateAccount(scheduler_pb2.CreateAccountRequest(
            platform=resources_pb2.WEBHOOK, external_id="up-hook", webhook_url=f"{fake}/_webhooks/up-hook",
            webhook_secret="s" * 32)).account_id
        # A second `up` on the same state directory: one line naming the first, at once, nothing touched.
        started = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "postsched.cli", "up", "--state-dir", str(state_dir)],
                                capture_output=True, text=True, timeout=30, env=env, cwd=ROOT)
        assert time.monotonic() - started < 2.0 + 1.5  # the interpreter's start included
        assert second.returncode == 1 and second.stdout == "", second.stdout
        assert second.stderr.count("\n") == 1 and f"already running on {state_dir} (pid {proc.pid})" in second.stderr
        assert proc.poll() is None
        assert demo.GetPost(scheduler_pb2.GetPostRequest(post_id=post["post_id"])).post_id == post["post_id"]
    finally:
        out = _stop(proc, state_dir)
    assert "stopped" in out

    # Started again on the same state directory: the post is still there.
    proc, banner = _start_up(state_dir, port)
    try:
        get = example.replace("SchedulerService/CreatePost", "SchedulerService/GetPost")
        get = re.sub(r"-d '\{.*?\}'", f"-d '{{\"post_id\": \"{post['post_id']}\"}}'", get)
        result = subprocess.run(["bash", "-c", get], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["post_id"] == post["post_id"]
        # fake-meta is back on its port with what it published; its ids go on, so a new post never
        # gets the first run's permalink; the webhook account made before the restart publishes.
        assert _fake_meta_url(banner) == fake
        with urllib.request.urlopen(f"{fake}/_control/posts", timeout=10) as response:
            kept = json.loads(response.read())["posts"]
        assert [p["id"] for p in kept] == [state["platform_post_id"]]
        demo = Tenant(f"127.0.0.1:{port}", tenant_token)
        again = demo.CreatePost(scheduler_pb2.CreatePostRequest(account_id=post["account_id"], text="after restart"))
        to_hook = demo.CreatePost(scheduler_pb2.CreatePostRequest(account_id=hook, text="to the receiver"))

        def both_published() -> list[resources_pb2.Post] | None:
            posts = [demo.GetPost(scheduler_pb2.GetPostRequest(post_id=i)) for i in (again.post_id, to_hook.post_id)]
            return posts if all(p.status == resources_pb2.PUBLISHED for p in posts) else None

        page_post, hook_post = until(both_published, timeout=30, what="both posts published after the restart")
        assert page_post.platform_post_id != state["platform_post_id"] and hook_post.platform_post_id
    finally:
        _stop(proc, state_dir)


def test_up_refuses_a_taken_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSCHED_")}
        env["POSTSCHED_SCHEDULER_ADDR"] = f"127.0.0.1:{port}"
        result = subprocess.run(
            [sys.executable, "-m", "postsched.cli", "up", "--state-dir", str(tmp_path / "s")],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 1
    assert "in use" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "stopped" not in result.stdout + result.stderr
    assert not (tmp_path / "s" / "pgdata").exists()  # said before a database was set up
    assert _processes_using(tmp_path / "s") == []
