"""deploy/kubernetes, checked offline: every resource against the Kubernetes schemas
(kubernetes-validate's bundled copies), the overlay built with kustomize where kubectl or kustomize
is installed, and the manifests agreeing with the code (commands, ports, probes, variables)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from postsched.nats_auth import ROLES, authorization_block, password_variable
from postsched.cli import build_parser
from postsched.embedded import nats_server_binary
from postsched.settings import DEFAULT_ADDRS, DEFAULT_METRICS_ADDRS
from postsched_devtools.processes import ROOT
from tests.integration.test_compose import source_text

DEPLOY = ROOT / "deploy" / "kubernetes"
BASE, OVERLAY = DEPLOY / "base", DEPLOY / "overlays" / "example"
SERVICES = ("scheduler", "dispatcher", "publisher", "admin")
KUBERNETES_VERSION = "1.31"  # the oldest release the manifests promise to fit


def _load_all(path: Path) -> list[dict]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc]


def _resources(files: list[Path]) -> list[dict]:
    return [doc for path in files for doc in _load_all(path)]


def base_files() -> list[Path]:
    (kustomization,) = _load_all(BASE / "kustomization.yaml")
    return [BASE / name for name in kustomization["resources"]]


def _built() -> list[dict]:
    """The example overlay as kustomize renders it, or None where neither tool is installed."""
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(OVERLAY)]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", str(OVERLAY)]
    else:
        return []
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in YAML(typ="safe").load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def built() -> list[dict]:
    return _built()


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_every_resource_fits_the_kubernetes_schema(built: list[dict]) -> None:
    docs = _resources(base_files()) + _load_all(OVERLAY / "namespace.yaml") + built
    assert len(docs) > 15
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # raises on any error
    # A wrong field is caught: the check is real.
    broken = {**by_kind(docs, "Job")["postsched-migrate"], "spec": {"backofLimit": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_base_lists_every_manifest_it_holds() -> None:
    assert sorted(base_files()) == sorted(p for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_overlay_builds_where_kustomize_is_installed(built: list[dict]) -> None:
    if not built:  # neither tool here: what the build would resolve must at least exist
        (overlay,) = _load_all(OVERLAY / "kustomization.yaml")
        names = {d["metadata"]["name"] for d in _resources(base_files())}
        assert all(r["name"] in names for r in overlay["replicas"])
        assert all((OVERLAY / f).is_file() for g in overlay["secretGenerator"] for f in g["envs"])
        return
    assert {d["metadata"].get("namespace") for d in built if d["kind"] != "Namespace"} == {"postsched"}
    (secret,) = by_kind(built, "Secret").values()
    deployments = by_kind(built, "Deployment")
    assert deployments["postsched-publisher"]["spec"]["replicas"] == 4
    for deployment in deployments.values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "registry.example.com/postsched:1.0.0"
        # The generated Secret's hashed name is what every container reads.
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in container["envFrom"]


def test_each_service_runs_its_command_on_its_port_with_grpc_health_probes() -> None:
    docs = _resources(base_files())
    deployments, services, budgets = by_kind(docs, "Deployment"), by_kind(docs, "Service"), by_kind(docs, "PodDisruptionBudget")
    parser = build_parser()
    for name in SERVICES:
        deployment = deployments[f"postsched-{name}"]
        pod = deployment["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        args = parser.parse_args(container["args"])
        assert (args.command, args.service) == ("serve", name)
        port = int(DEFAULT_ADDRS[name].rsplit(":", 1)[1])
        metrics_port = int(DEFAULT_METRICS_ADDRS[name].rsplit(":", 1)[1])
        assert container["ports"][:2] == [{"name": "grpc", "containerPort": port},
                                          {"name": "metrics", "containerPort": metrics_port}]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"POSTSCHED_{name.upper()}_ADDR"] == f"0.0.0.0:{port}"
        assert env[f"POSTSCHED_{name.upper()}_METRICS_ADDR"] == f"0.0.0.0:{metrics_port}"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": port}
        assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
        assert services[f"postsched-{name}"]["spec"]["ports"][0]["port"] == port
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert pod["metadata"]["labels"] == selector == budgets[f"postsched-{name}"]["spec"]["selector"]["matchLabels"]
    (job,) = by_kind(docs, "Job").values()
    assert parser.parse_args(job["spec"]["template"]["spec"]["containers"][0]["args"]).command == "migrate"


def test_every_variable_set_is_one_the_code_reads() -> None:
    code = source_text()
    docs = _resources(base_files())
    names = set(by_kind(docs, "ConfigMap")["postsched-config"]["data"])
    names |= {line.split("=", 1)[0] for line in (OVERLAY / "secrets.env").read_text().splitlines()
              if line and not line.startswith("#")}
    for deployment in by_kind(docs, "Deployment").values():
        names |= {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    nats_passwords = {password_variable(role) for role in ROLES}  # read by nats-server, from its config
    for name in names - {"OTEL_SERVICE_NAME"} - nats_passwords:
        assert name.endswith("_ADDR") or f'"{name}"' in code, f"the code never reads {name}"
    assert nats_passwords <= names
    assert {"POSTSCHED_DATABASE_URL", "POSTSCHED_SECRET_KEY", "POSTSCHED_API_TOKENS", "POSTSCHED_ADMIN_TOKEN"} <= names


def test_nats_is_three_jetstream_members_whose_config_nats_server_accepts(tmp_path: Path) -> None:
    docs = _resources(base_files())
    (statefulset,) = by_kind(docs, "StatefulSet").values()
    assert statefulset["spec"]["replicas"] == 3
    config = by_kind(docs, "ConfigMap")["nats-config"]["data"]["nats-server.conf"]
    assert 'sync_interval: "always"' in config
    members = [f"nats-{i}.nats-cluster" for i in range(3)]
    assert all(f"nats://{m}:6222" in config for m in members)
    url = by_kind(docs, "ConfigMap")["postsched-config"]["data"]["POSTSCHED_NATS_URL"]
    assert url.split(",") == [f"nats://{m}:4222" for m in members]
    assert by_kind(docs, "ConfigMap")["postsched-config"]["data"]["POSTSCHED_STREAM_REPLICAS"] == "3"
    (tmp_path / "nats.conf").write_text(config)
    passwords = {password_variable(role): f"test-{role}" for role in ROLES}
    result = subprocess.run([nats_server_binary(), "-t", "-c", str(tmp_path / "nats.conf")], capture_output=True,
                            text=True, timeout=30, env={"POD_NAME": "nats-0", **passwords})
    assert result.returncode == 0, result.stdout + result.stderr
    # Locked: postsched's users as `postsched nats-config` writes them, passwords from the Secret.
    assert authorization_block().replace("\n", "").replace(" ", "") in config.replace("\n", "").replace(" ", "")
    env = {e["name"]: e for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
    for role in ROLES:
        assert env[password_variable(role)]["valueFrom"]["secretKeyRef"]["key"] == password_variable(role)
    for deployment in by_kind(docs, "Deployment").values():
        role = deployment["metadata"]["name"].removeprefix("postsched-")
        service_env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        if role in ROLES:
            assert service_env["POSTSCHED_NATS_USER"]["value"] == role
            assert service_env["POSTSCHED_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == password_variable(role)
