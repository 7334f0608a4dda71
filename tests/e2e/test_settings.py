"""Settings: a missing or malformed variable stops the process with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from postsched.embedded import free_port
from postsched.errors import ConfigError
from postsched.auth import digest, tenant_tokens
from postsched.settings import PublisherSettings, SchedulerSettings
from postsched_devtools.processes import ROOT

GOOD = {
    "POSTSCHED_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/x",
    "POSTSCHED_SECRET_KEY": Fernet.generate_key().decode(),
    "POSTSCHED_API_TOKENS": f"acme:{'1' * 32},globex:{'2' * 32}",
}


def test_reads_settings() -> None:
    settings = SchedulerSettings.from_env(GOOD)
    assert settings.api_tokens.names() == {"acme", "globex"}
    assert settings.api_tokens.entries[digest("1" * 32)].tenant_id == "acme"
    assert settings.listen_addr == "127.0.0.1:50051"


@pytest.mark.parametrize(
    "name, value",
    [
        ("POSTSCHED_DATABASE_URL", ""),
        ("POSTSCHED_DATABASE_URL", "mysql://x"),
        ("POSTSCHED_SECRET_KEY", "not-a-key"),
        ("POSTSCHED_API_TOKENS", "no-colon"),
        ("POSTSCHED_API_TOKENS", f"a:{'t' * 32},b:{'t' * 32}"),
        ("POSTSCHED_API_TOKENS", "a:short-token"),
        ("POSTSCHED_SCHEDULER_ADDR", "nohost"),
    ],
)
def test_bad_setting_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        SchedulerSettings.from_env({**GOOD, name: value})
    assert name in str(info.value)


def test_api_tokens_reject_odd_tenant_names() -> None:
    with pytest.raises(ConfigError):
        tenant_tokens({"POSTSCHED_API_TOKENS": f"bad tenant:{'t' * 32}"})


@pytest.mark.parametrize("name, value", [("POSTSCHED_SECRET_KEY", "short"), ("POSTSCHED_EVENT_LOOP", "trio")])
def test_serve_exits_with_one_clear_line(name: str, value: str) -> None:
    # Off the default ports: `postsched up` may hold them in another test process.
    env = {"PATH": "/usr/bin:/bin", **GOOD, "POSTSCHED_SCHEDULER_METRICS_ADDR": "off",
           "POSTSCHED_SCHEDULER_ADDR": f"127.0.0.1:{free_port()}", name: value}
    result = subprocess.run(
        [sys.executable, "-m", "postsched.cli", "serve", "scheduler"], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr


def test_the_graph_api_version_is_one_setting_and_never_in_the_url() -> None:
    env = {**GOOD, "POSTSCHED_NATS_URL": "nats://127.0.0.1:4222", "POSTSCHED_ADMIN_TOKEN": "o" * 32}
    default = PublisherSettings.from_env(env)
    assert default.graph_base == "https://graph.facebook.com/v27.0"
    chosen = PublisherSettings.from_env({**env, "POSTSCHED_META_GRAPH_URL": "http://127.0.0.1:8089/",
                                         "POSTSCHED_META_GRAPH_VERSION": "v28.0"})
    assert chosen.graph_base == "http://127.0.0.1:8089/v28.0"
    with pytest.raises(ConfigError) as info:
        PublisherSettings.from_env({**env, "POSTSCHED_META_GRAPH_URL": "https://graph.facebook.com/v21.0"})
    assert str(info.value) == ("POSTSCHED_META_GRAPH_URL holds a Graph API version (v21.0): give the base without it "
                               "(https://graph.facebook.com) and the version in POSTSCHED_META_GRAPH_VERSION (default v27.0)")
    for bad in ("27.0", "v27", "latest", "v27.0/"):
        with pytest.raises(ConfigError, match="POSTSCHED_META_GRAPH_VERSION"):
            PublisherSettings.from_env({**env, "POSTSCHED_META_GRAPH_VERSION": bad})


def test_the_video_upload_host_is_a_setting_with_the_graph_version() -> None:
    env = {**GOOD, "POSTSCHED_NATS_URL": "nats://127.0.0.1:4222", "POSTSCHED_ADMIN_TOKEN": "o" * 32}
    assert PublisherSettings.from_env(env).upload_base == "https://rupload.facebook.com/video-upload/v27.0"
    chosen = PublisherSettings.from_env({**env, "POSTSCHED_META_UPLOAD_URL": "http://127.0.0.1:8089/",
                                         "POSTSCHED_META_GRAPH_VERSION": "v28.0"})
    assert chosen.upload_base == "http://127.0.0.1:8089/video-upload/v28.0"
    with pytest.raises(ConfigError, match="POSTSCHED_META_UPLOAD_URL must be an http"):
        PublisherSettings.from_env({**env, "POSTSCHED_META_UPLOAD_URL": "rupload.facebook.com"})
