"""The README's grpcurl examples work as written, with the real grpcurl binary, against real services."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from postsched.suite import load_state_config, suite_tokens
from postsched_devtools.fake_meta.control import FakeMeta
from postsched.outbound import LOOPBACK_ALLOW
from postsched_devtools.processes import ROOT, Suite

pytestmark = pytest.mark.e2e  # its services take free ports; the blocks' default ports follow them
README = (ROOT / "README.md").read_text()
DEFAULT_PORTS = {"scheduler": 50051, "dispatcher": 50052, "publisher": 50053, "admin": 50054, "fake-meta": 8089}


def readme_blocks() -> list[str]:
    return re.findall(r"<!-- this block is run by tests/e2e/test_readme.py -->\n```sh\n(.*?)```", README, re.S)


def block(containing: str) -> str:
    (found,) = [b for b in readme_blocks() if containing in b]
    return found


@pytest.fixture
def up_dir(tmp_path: Path) -> Path:
    """A directory holding a `postsched up` state directory (.postsched) with its random tokens:
    where the README's blocks run, so `postsched token` prints them."""
    load_state_config(tmp_path / ".postsched")
    return tmp_path


def dev_tokens(up_dir: Path) -> tuple[str, str]:
    return suite_tokens(up_dir / ".postsched", {})


@pytest.fixture
def dev_suite(suite: Suite, fake_meta: FakeMeta, up_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """The services with `postsched up`'s tokens, publishing to fake-meta; returns {name: port}."""
    config = load_state_config(up_dir / ".postsched")
    suite.base_env.update(POSTSCHED_API_TOKENS=config["POSTSCHED_API_TOKENS"],
                          POSTSCHED_ADMIN_TOKEN=config["POSTSCHED_ADMIN_TOKEN"],
                          POSTSCHED_META_GRAPH_URL=fake_meta.graph_url,
                          POSTSCHED_OUTBOUND_ALLOW=LOOPBACK_ALLOW)  # as `postsched up` allows
    monkeypatch.setenv("POSTSCHED_README_DIR", str(up_dir))  # run_sh's working directory
    ports = {name: suite.start(name).port for name in DEFAULT_PORTS if name != "fake-meta"}
    yield {**ports, "fake-meta": fake_meta.port}


def run_sh(script: str, ports: dict[str, int], **env_vars: str) -> subprocess.CompletedProcess:
    for name, default in DEFAULT_PORTS.items():
        script = script.replace(f"localhost:{default}", f"localhost:{ports[name]}")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env_vars}
    for name in ("POSTSCHED_API_TOKENS", "POSTSCHED_ADMIN_TOKEN"):
        env.pop(name, None)  # `postsched token` reads the state directory, as after `postsched up`
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env,
                          timeout=120, cwd=os.environ.get("POSTSCHED_README_DIR"))


def json_objects(text: str) -> list[dict]:
    """The JSON values printed one after another (grpcurl's pretty ones, or curl's unseparated ones)."""
    decoder, objects, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, end = decoder.raw_decode(text, at)
        objects.append(value)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return objects


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "postsched up" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


def test_scheduling_then_dispatch_examples(dev_suite: dict[str, int]) -> None:
    scheduling, dispatching = block("readme-hook"), block("DispatchNow")
    result = run_sh(scheduling, dev_suite)
    assert result.returncode == 0, result.stderr
    created, listed = json_objects(result.stdout)
    assert created["status"] == "SCHEDULED" and created["text"] == "Hello from postsched"
    assert created["post_id"] in [p["post_id"] for p in listed["posts"]]

    result = run_sh(dispatching, dev_suite)
    assert result.returncode == 0, result.stderr
    now, status = json_objects(result.stdout)
    assert set(now) <= {"leased", "published", "rescued"}  # zero counts are omitted by grpcurl
    assert status["nats_connected"] is True and status["instance_id"]


def test_list_example(dev_suite: dict[str, int]) -> None:
    assert "`grpcurl -plaintext localhost:50051 list`" in README
    result = run_sh("grpcurl -plaintext localhost:50051 list", dev_suite)
    assert result.returncode == 0, result.stderr
    assert "postsched.v1.SchedulerService" in result.stdout.split()


def test_publisher_and_fake_meta_examples(dev_suite: dict[str, int]) -> None:
    status_block, fake_meta_block = block("GetPublisherStatus"), block("every post it accepted")
    result = run_sh(status_block, dev_suite)
    assert result.returncode == 0, result.stderr
    (status,) = json_objects(result.stdout)
    assert status["nats_connected"] is True and status["concurrency"] == 1000
    result = run_sh(fake_meta_block, dev_suite)
    assert result.returncode == 0, result.stderr
    answers = json_objects(result.stdout)
    assert answers[0] == {"posts": []} and "calls" in answers[1]
    assert answers[2] == {"faults": 1} and answers[3] == {"ok": True}
    assert answers[4] == {"posts": 300} and answers[5] == {"ok": True}  # 300 posts on the Page; back to normal


def test_operations_examples(dev_suite: dict[str, int], fake_meta: FakeMeta, suite: Suite, up_dir: Path) -> None:
    from postsched.v1 import resources_pb2, scheduler_pb2
    from postsched_devtools.tenant import Tenant

    client = Tenant(f"127.0.0.1:{dev_suite['scheduler']}", dev_tokens(up_dir)[0])
    page = client.page_account("1000000001")  # the demo Page the block's fault names; PAGE as the quick start sets it
    result = run_sh(block("AdminService/GetQueueStats"), dev_suite, PAGE=page.account_id)
    assert result.returncode == 0, result.stderr
    (fault, stats, tenant_stats, account_stats, story, failures, failed_posts, retried, retry_all, cleared,
     paused, resumed) = json_objects(result.stdout)
    assert fault == {"faults": 1}
    (post_id,) = {e["post_id"] for e in story["entries"]}
    post = client.GetPost(scheduler_pb2.GetPostRequest(post_id=post_id))
    assert post.text == "an operator's example"
    assert stats["failed"] == "1" and tenant_stats["failed"] == "1" and account_stats["failed"] == "1"
    assert [e["event"] for e in story["entries"]][0] == "failed"
    assert failures["entries"][0]["post_id"] == post.post_id
    assert failed_posts["posts"][0]["post_id"] == post.post_id and "100" in failed_posts["posts"][0]["last_error"]
    # -emit-defaults: the zero counts are printed, not dropped
    assert retried["status"] == "SCHEDULED" and retry_all == {"retried": "0", "waiting_for_credentials": "0"}
    assert cleared == {"deleted": "0"}
    assert paused["paused"] is True and "paused" not in resumed
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post.post_id,))
    assert [p["message"] for p in fake_meta.posts("1000000001")] == ["an operator's example"]
    assert client.GetPost(scheduler_pb2.GetPostRequest(post_id=post.post_id)).status == resources_pb2.PUBLISHED


def test_watch_example(dev_suite: dict[str, int]) -> None:
    result = run_sh(block("AdminService/WatchQueue"), dev_suite)
    assert result.returncode == 124, result.stderr  # streams until stopped
    (first,) = json_objects(result.stdout)
    assert "at" in first


def test_bad_input_example(dev_suite: dict[str, int]) -> None:
    result = run_sh(block("not-an-id"), dev_suite)
    assert result.returncode == 0, result.stderr
    assert "exit 67" in result.stdout
    assert "Code: InvalidArgument" in result.stderr and "post_id" in result.stderr
    assert "google.rpc.BadRequest" in result.stderr


def test_watch_events_example(dev_suite: dict[str, int], fake_meta: FakeMeta, suite: Suite, up_dir: Path) -> None:
    from postsched.v1 import scheduler_pb2
    from postsched_devtools.tenant import Tenant

    client = Tenant(f"127.0.0.1:{dev_suite['scheduler']}", dev_tokens(up_dir)[0])
    page = client.page_account("434343")
    post = client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=page.account_id, text="events example"))
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post.post_id,))
    result = run_sh(block("SchedulerService/WatchEvents"), dev_suite)
    assert result.returncode == 124, result.stderr  # streams until stopped
    (event,) = json_objects(result.stdout)
    assert event["type"] == "post.published" and event["post_id"] == post.post_id and event["sequence"] == "1"
    assert event["platform_post_id"] == event["post"]["platform_post_id"]


def test_event_webhook_example(dev_suite: dict[str, int]) -> None:
    result = run_sh(block("SetEventWebhook"), dev_suite)
    assert result.returncode == 0, result.stderr
    set_hook, got, deliveries = json_objects(result.stdout)
    assert set_hook["url"] == got["url"] == "http://127.0.0.1:8089/_webhooks/postsched-events"
    assert deliveries == {}  # no events yet, so no attempts
