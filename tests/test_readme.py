"""The README's grpcurl examples work as written, with the real grpcurl binary, against a real scheduler."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from postsched.suite import DEV_TENANT_TOKENS
from tests.conftest import service_env
from tests.infra import ROOT, Databases, ServiceProcess

pytestmark = pytest.mark.e2e
README = (ROOT / "README.md").read_text()


def readme_blocks() -> list[str]:
    return re.findall(r"<!-- this block is run by tests/test_readme.py -->\n```sh\n(.*?)```", README, re.S)


@pytest.fixture(scope="module")
def dev_scheduler(databases: Databases, secret_key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    env = {**service_env(databases.fresh(), secret_key), "POSTSCHED_API_TOKENS": DEV_TENANT_TOKENS}
    service = ServiceProcess("scheduler", env, tmp_path_factory.mktemp("readme")).start()
    yield service
    service.stop()


def run_sh(script: str, service: ServiceProcess) -> subprocess.CompletedProcess:
    script = script.replace("localhost:50051", f"localhost:{service.port}")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env, timeout=120)


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "postsched up" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


def test_scheduling_example(dev_scheduler: ServiceProcess) -> None:
    (block,) = readme_blocks()
    result = run_sh(block, dev_scheduler)
    assert result.returncode == 0, result.stderr
    objects = [json.loads(chunk) for chunk in re.split(r"(?<=\n})\n(?=\{)", result.stdout.strip())]
    created, listed = objects
    assert created["status"] == "SCHEDULED" and created["text"] == "Hello from postsched"
    assert created["post_id"] in [p["post_id"] for p in listed["posts"]]


def test_list_example(dev_scheduler: ServiceProcess) -> None:
    assert "`grpcurl -plaintext localhost:50051 list`" in README
    result = run_sh("grpcurl -plaintext localhost:50051 list", dev_scheduler)
    assert result.returncode == 0, result.stderr
    assert "postsched.v1.SchedulerService" in result.stdout.split()
