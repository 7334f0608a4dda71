"""docker-compose.yml, checked without a Docker engine: the Compose Specification, real postsched
commands, environment variables the code reads, ports that agree with the defaults, NATS >= 2.10.23."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from postsched.nats_auth import ROLES, authorization_block, password_variable
from postsched.cli import build_parser
from postsched.broker import MIN_NATS_VERSION
from postsched.embedded import nats_server_binary
from postsched.settings import DEFAULT_ADDRS
from postsched_devtools.processes import ROOT

COMPOSE = ROOT / "docker-compose.yml"
SERVICES = ("scheduler", "dispatcher", "publisher", "admin")
CLUSTER = ("nats-1", "nats-2", "nats-3")  # the "nats-cluster" profile
# Standard OpenTelemetry variables (read by the SDK and exporter, not by postsched's own code).
OTEL_VARIABLES = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
                  "OTEL_RESOURCE_ATTRIBUTES"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load(COMPOSE.read_text())


def source_text() -> str:
    return "\n".join(p.read_text() for folder in ("postsched", "services") for p in (ROOT / folder).rglob("*.py"))


def test_valid_against_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_whole_suite_is_there(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "nats", "jaeger", "migrate", "fake-meta", *SERVICES, *CLUSTER}
    for name in ("migrate", *SERVICES):
        assert services[name]["build"] == {"context": ".", "target": "production"}
        assert services[name]["image"] == "postsched:dev"
    # the production image has no development tools; fake-meta comes from the devtools stage
    assert services["fake-meta"]["build"] == {"context": ".", "target": "devtools"}
    assert services["fake-meta"]["image"] != "postsched:dev"
    for name in SERVICES:
        assert services[name]["healthcheck"]["test"][:3] == ["CMD", "postsched", "health"]
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["nats"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["publisher"]["depends_on"]["fake-meta"]["condition"] == "service_started"


def test_every_command_is_a_real_postsched_command(compose: dict) -> None:
    parser = build_parser()
    for name, service in compose["services"].items():
        if not built_here(service):
            continue
        args = parser.parse_args(service["command"])  # exits (fails the test) on an unknown command
        assert args.command in ("serve", "migrate", "fake-meta")
        if args.command == "serve":
            assert args.service == name
        for word in service.get("healthcheck", {}).get("test", [])[2:3]:
            parser.parse_args([word, "localhost:1"])


def test_every_environment_variable_is_read_by_the_code(compose: dict) -> None:
    code = source_text()
    for name, service in compose["services"].items():
        if not built_here(service):
            continue
        for variable in service["environment"]:
            if variable.startswith("OTEL_"):
                assert variable in OTEL_VARIABLES, f"{name}: {variable} is not a standard OTEL variable we use"
            else:
                assert variable.startswith("POSTSCHED_"), (name, variable)
                if variable == "POSTSCHED_DASHBOARD_ADDR":
                    assert name == "admin" and f'"{variable}"' in code
                elif variable.endswith("_ADDR"):
                    assert variable == f"POSTSCHED_{name.upper()}_ADDR"
                    assert 'f"POSTSCHED_{service.upper()}_ADDR"' in code
                else:
                    assert f'"{variable}"' in code, f"{name}: the code never reads {variable}"


def test_ports_agree_with_the_defaults(compose: dict) -> None:
    services = compose["services"]
    for name in SERVICES:
        port = DEFAULT_ADDRS[name].rsplit(":", 1)[1]
        assert services[name]["environment"][f"POSTSCHED_{name.upper()}_ADDR"] == f"0.0.0.0:{port}"
        assert services[name]["ports"] == [f"{port}:{port}"] + (["127.0.0.1:8080:8080"] if name == "admin" else [])
        assert services[name]["healthcheck"]["test"][3] == f"localhost:{port}"
    assert "16686:16686" in services["jaeger"]["ports"] and "4317:4317" in services["jaeger"]["ports"]
    assert services["scheduler"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"
    assert services["publisher"]["environment"]["POSTSCHED_META_GRAPH_URL"] == "${POSTSCHED_META_GRAPH_URL:-http://fake-meta:8089}"


NATS_PASSWORDS = {password_variable(role): f"test-{role}" for role in ROLES}


def assert_locked(config: str, service: dict) -> None:
    """The server configuration holds postsched's users as `postsched nats-config` writes them, and
    compose requires every password nats-server reads."""
    assert authorization_block() in config
    for role in ROLES:
        assert service["environment"][password_variable(role)].startswith(f"${{{password_variable(role)}:?")


def test_tokens_are_required_not_defaulted(compose: dict) -> None:
    environment = compose["services"]["scheduler"]["environment"]
    for name in ("POSTSCHED_API_TOKENS", "POSTSCHED_ADMIN_TOKEN", "POSTSCHED_SECRET_KEY"):
        assert environment[name].startswith(f"${{{name}:?"), name
    assert "dev-token" not in (ROOT / "docker-compose.yml").read_text()


def test_every_service_logs_in_to_nats_as_its_own_user(compose: dict) -> None:
    for role in ROLES:
        environment = compose["services"][role]["environment"]
        assert environment["POSTSCHED_NATS_USER"] == role
        assert environment["POSTSCHED_NATS_PASSWORD"].startswith(f"${{{password_variable(role)}:?")
    assert "POSTSCHED_NATS_USER" not in compose["services"]["scheduler"]["environment"]


def test_nats_is_recent_enough_and_has_jetstream(compose: dict) -> None:
    nats = compose["services"]["nats"]
    version = tuple(int(x) for x in re.match(r"nats:(\d+)\.(\d+)\.(\d+)", nats["image"]).groups())  # type: ignore[union-attr]
    assert version >= MIN_NATS_VERSION
    assert nats["command"] == ["-c", "/etc/nats/nats-server.conf"]
    (mount,) = [v for v in nats["volumes"] if v.endswith(":/etc/nats/nats-server.conf:ro")]
    config = ROOT / mount.split(":")[0]
    text = config.read_text()
    assert "jetstream {" in text and 'sync_interval: "always"' in text and "http_port: 8222" in text
    # The real nats-server accepts the file (-t: test the configuration and exit).
    result = subprocess.run([nats_server_binary(), "-t", "-c", str(config)], capture_output=True, text=True, timeout=30,
                            env=NATS_PASSWORDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_locked(text, nats)


def built_here(service: dict) -> bool:
    return isinstance(service.get("build"), dict) and service["build"].get("context") == "."


def dockerfile_stages() -> dict[str, str]:
    """Each stage's name → its own lines plus those of the stage it starts FROM."""
    stages: dict[str, str] = {}
    name = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            words = line.split()
            name = words[-1]
            stages[name] = stages.get(words[1], "") + "\n"
        elif name:
            stages[name] += line + "\n"
    return stages


def test_dockerfile_builds_the_package_it_runs_and_the_production_image_has_no_devtools() -> None:
    stages = dockerfile_stages()
    assert list(stages)[-1] == "production"  # the default target is the production image
    for stage in ("production", "devtools"):
        for folder in ("protos", "postsched", "services"):
            assert f"COPY {folder} {folder}" in stages[stage] and (ROOT / folder).is_dir()
        assert 'ENTRYPOINT ["postsched"]' in stages[stage] and "pip install --no-cache-dir ." in stages[stage]
    assert "postsched_devtools" not in stages["production"]
    assert "COPY postsched_devtools postsched_devtools" in stages["devtools"]


def test_the_cluster_profile_is_three_jetstream_members_nats_server_accepts(compose: dict) -> None:
    services = compose["services"]
    single = services["nats"]
    for name in CLUSTER:
        member = services[name]
        assert member["profiles"] == ["nats-cluster"] and member["image"] == single["image"]
        assert member["environment"]["SERVER_NAME"] == name
        (mount,) = [v for v in member["volumes"] if v.endswith(":/etc/nats/nats-cluster.conf:ro")]
        config = ROOT / mount.split(":")[0]
        text = config.read_text()
        assert 'sync_interval: "always"' in text and all(f"nats://{m}:6222" in text for m in CLUSTER)
        assert_locked(text, member)
        result = subprocess.run([nats_server_binary(), "-t", "-c", str(config)], capture_output=True, text=True,
                                timeout=30, env={"SERVER_NAME": name, **NATS_PASSWORDS})
        assert result.returncode == 0, result.stdout + result.stderr
    assert len({v for name in CLUSTER for v in services[name]["volumes"] if v.endswith(":/data")}) == 3
    # The services switch to the cluster through the two variables the top of the file names.
    environment = services["publisher"]["environment"]
    assert environment["POSTSCHED_NATS_URL"] == "${POSTSCHED_NATS_URL:-nats://nats:4222}"
    assert environment["POSTSCHED_STREAM_REPLICAS"] == "${POSTSCHED_STREAM_REPLICAS:-1}"
    header = COMPOSE.read_text()
    assert "POSTSCHED_NATS_URL=" + ",".join(f"nats://{m}:4222" for m in CLUSTER) in header
    assert "docker compose --profile nats-cluster up" in header
