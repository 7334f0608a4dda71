"""TLS on the gRPC servers, with certificates made here: plaintext refused, a client that trusts the
CA served (grpc, grpcurl as the README shows, `postsched health`), mutual TLS refusing a client
without a certificate of the client CA, and a warning for plaintext off loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc

from postsched.auth import TokenBook, operator_tokens
from postsched.errors import ConfigError
from postsched.grpc_server import start_server
from postsched.tls import TLSSettings, is_loopback
from postsched.v1 import admin_pb2, admin_pb2_grpc
from tests.certs import CertificateAuthority
from tests.conftest import ADMIN_TOKEN
from postsched_devtools.processes import ROOT, Suite

README = (ROOT / "README.md").read_text()
AUTH = (("authorization", f"Bearer {ADMIN_TOKEN}"),)


def _health(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status


def _grpcurl(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["grpcurl", *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.e2e
def test_a_service_with_a_certificate_serves_tls_only(suite: Suite, tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    served = ca.issue("admin", client=False)
    admin = suite.start("admin", POSTSCHED_TLS_CERT=str(served.cert), POSTSCHED_TLS_KEY=str(served.key),
                        POSTSCHED_TLS_CA=str(ca.pem))
    with grpc.insecure_channel(admin.addr) as plain:
        with pytest.raises(grpc.RpcError) as refused:
            _health(plain)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    trusted = grpc.ssl_channel_credentials(root_certificates=ca.pem.read_bytes())
    with grpc.secure_channel(f"localhost:{admin.port}", trusted) as channel:
        assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
        stats = admin_pb2_grpc.AdminServiceStub(channel).GetQueueStats(admin_pb2.GetQueueStatsRequest(), metadata=AUTH)
        assert stats.oldest_overdue_seconds == 0
    # A client that does not trust the CA is refused.
    other = CertificateAuthority(tmp_path, "other CA")
    with grpc.secure_channel(f"localhost:{admin.port}", grpc.ssl_channel_credentials(other.pem.read_bytes())) as channel:
        with pytest.raises(grpc.RpcError) as untrusted:
            _health(channel)
        assert untrusted.value.code() == grpc.StatusCode.UNAVAILABLE

    # grpcurl as the README shows it.
    assert 'grpcurl -cacert ca.pem -H "authorization: Bearer $ADMIN_TOKEN" localhost:50054' in README
    listed = _grpcurl("-cacert", str(ca.pem), "-H", f"authorization: Bearer {ADMIN_TOKEN}",
                      f"localhost:{admin.port}", "postsched.v1.AdminService/GetQueueStats")
    assert listed.returncode == 0, listed.stderr
    assert _grpcurl("-plaintext", f"localhost:{admin.port}", "list").returncode != 0
    # `postsched health` (the containers' probe) with the CA in its environment.
    probe = subprocess.run([sys.executable, "-m", "postsched.cli", "health", f"localhost:{admin.port}"],
                           env={**os.environ, "POSTSCHED_TLS_CA": str(ca.pem)}, capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0 and "SERVING" in probe.stdout, probe.stderr
    assert "without TLS" not in admin.log()


@pytest.mark.e2e
def test_mutual_tls_refuses_a_client_without_a_certificate_of_the_client_ca(suite: Suite, tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    served = ca.issue("admin")  # serverAuth and clientAuth: the service's own probes present it
    admin = suite.start("admin", POSTSCHED_TLS_CERT=str(served.cert), POSTSCHED_TLS_KEY=str(served.key),
                        POSTSCHED_TLS_CLIENT_CA=str(ca.pem), POSTSCHED_TLS_CA=str(ca.pem))
    client = ca.issue("operator", server=False)
    target = f"localhost:{admin.port}"
    without = grpc.ssl_channel_credentials(root_certificates=ca.pem.read_bytes())
    with grpc.secure_channel(target, without) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            _health(channel)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    with_cert = grpc.ssl_channel_credentials(root_certificates=ca.pem.read_bytes(),
                                             private_key=client.key.read_bytes(),
                                             certificate_chain=client.cert.read_bytes())
    with grpc.secure_channel(target, with_cert) as channel:
        assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
    assert "grpcurl -cacert ca.pem -cert client.pem -key client-key.pem" in README
    answered = _grpcurl("-cacert", str(ca.pem), "-cert", str(client.cert), "-key", str(client.key),
                        "-H", f"authorization: Bearer {ADMIN_TOKEN}", target, "postsched.v1.AdminService/GetQueueStats")
    assert answered.returncode == 0, answered.stderr
    assert _grpcurl("-cacert", str(ca.pem), target, "list").returncode != 0


async def test_plaintext_off_loopback_is_warned_about_and_tls_or_loopback_is_not(tmp_path: Path) -> None:
    served = CertificateAuthority(tmp_path).issue("any", client=False)
    tls = TLSSettings.from_env({"POSTSCHED_TLS_CERT": str(served.cert), "POSTSCHED_TLS_KEY": str(served.key)})
    for addr, settings, warned in (("0.0.0.0:0", TLSSettings(), True), ("0.0.0.0:0", tls, False),
                                   ("127.0.0.1:0", TLSSettings(), False)):
        with structlog.testing.capture_logs() as logs:
            server = await start_server(addr, registrars=[], service_names=[], authenticator=TokenBook(operator_tokens({"POSTSCHED_ADMIN_TOKEN": "t" * 32})),
                                        tls=settings)
            await server.stop(0)
        assert any("without TLS" in entry["event"] for entry in logs) == warned, (addr, settings.serving)
    assert is_loopback("[::1]:50051") and is_loopback("localhost:1") and not is_loopback("example.com:1")


def test_tls_settings_refuse_half_a_configuration(tmp_path: Path) -> None:
    served = CertificateAuthority(tmp_path).issue("any")
    for env, says in (
        ({"POSTSCHED_TLS_CERT": str(served.cert)}, "go together"),
        ({"POSTSCHED_TLS_KEY": str(served.key)}, "go together"),
        ({"POSTSCHED_TLS_CLIENT_CA": str(served.cert)}, "needs POSTSCHED_TLS_CERT"),
        ({"POSTSCHED_TLS_CA": str(tmp_path / "missing.pem")}, "cannot read"),
        ({"POSTSCHED_TLS_CA": str(tmp_path)}, "cannot read"),
    ):
        with pytest.raises(ConfigError, match=says):
            TLSSettings.from_env(env)
    (tmp_path / "not.pem").write_text("hello")
    with pytest.raises(ConfigError, match="not a PEM file"):
        TLSSettings.from_env({"POSTSCHED_TLS_CA": str(tmp_path / "not.pem")})
    assert not TLSSettings.from_env({}).serving and TLSSettings.from_env({}).channel_credentials() is None
