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

from postsched.suite import DEV_ADMIN_TOKEN, DEV_TENANT_TOKENS
from tests.infra import ROOT, Suite

pytestmark = pytest.mark.e2e
README = (ROOT / "README.md").read_text()
DEFAULT_PORTS = {"scheduler": 50051, "dispatcher": 50052}


def readme_blocks() -> list[str]:
    return re.findall(r"<!-- this block is run by tests/test_readme.py -->\n```sh\n(.*?)```", README, re.S)


@pytest.fixture
def dev_suite(suite: Suite) -> Iterator[dict[str, int]]:
    """The services with `postsched up`'s dev tokens; returns {service: port}."""
    suite.base_env.update(POSTSCHED_API_TOKENS=DEV_TENANT_TOKENS, POSTSCHED_ADMIN_TOKEN=DEV_ADMIN_TOKEN)
    yield {name: suite.start(name).port for name in DEFAULT_PORTS}


def run_sh(script: str, ports: dict[str, int]) -> subprocess.CompletedProcess:
    for name, default in DEFAULT_PORTS.items():
        script = script.replace(f"localhost:{default}", f"localhost:{ports[name]}")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env, timeout=120)


def json_objects(text: str) -> list[dict]:
    return [json.loads(chunk) for chunk in re.split(r"(?<=\n})\n(?=\{)", text.strip())]


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "postsched up" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


def test_scheduling_then_dispatch_examples(dev_suite: dict[str, int]) -> None:
    scheduling, dispatching = readme_blocks()
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
