"""TLS for every gRPC server, and for the clients postsched runs itself (`postsched health`, `postsched up`).

Servers: POSTSCHED_TLS_CERT and POSTSCHED_TLS_KEY (PEM files: the certificate chain and its key)
turn TLS on; POSTSCHED_TLS_CLIENT_CA (a PEM bundle) also requires every client to present a
certificate that CA signed (mutual TLS). Clients verify the server against POSTSCHED_TLS_CA (else
the system's roots) and, under mutual TLS, present POSTSCHED_TLS_CERT / POSTSCHED_TLS_KEY (which
then need the clientAuth usage too). Without any of them everything is plaintext, which the
default loopback addresses keep off the network; a service listening anywhere else without TLS
says so at start, since bearer tokens would cross the network readable.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import grpc

from postsched.errors import ConfigError


def _pem(env: Mapping[str, str], name: str) -> bytes | None:
    path = env.get(name, "").strip()
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{name}: {path} is not a PEM file")
    return data


@dataclass(frozen=True)
class TLSSettings:
    cert: bytes | None = None
    key: bytes | None = None
    client_ca: bytes | None = None
    ca: bytes | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "TLSSettings":
        settings = cls(
            cert=_pem(env, "POSTSCHED_TLS_CERT"), key=_pem(env, "POSTSCHED_TLS_KEY"),
            client_ca=_pem(env, "POSTSCHED_TLS_CLIENT_CA"), ca=_pem(env, "POSTSCHED_TLS_CA"),
        )
        if (settings.cert is None) != (settings.key is None):
            raise ConfigError("POSTSCHED_TLS_CERT and POSTSCHED_TLS_KEY go together: set both or neither")
        if settings.client_ca is not None and settings.cert is None:
            raise ConfigError("POSTSCHED_TLS_CLIENT_CA needs POSTSCHED_TLS_CERT and POSTSCHED_TLS_KEY")
        return settings

    @property
    def serving(self) -> bool:
        return self.cert is not None

    def server_credentials(self) -> grpc.ServerCredentials | None:
        if self.cert is None or self.key is None:
            return None
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)], root_certificates=self.client_ca, require_client_auth=self.client_ca is not None
        )

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """What a client of a postsched service uses: None for plaintext."""
        if self.ca is None and self.cert is None:
            return None
        mutual = self.client_ca is not None
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca,
            private_key=self.key if mutual else None,
            certificate_chain=self.cert if mutual else None,
        )


def channel(addr: str, env: Mapping[str, str]) -> grpc.Channel:
    """A blocking channel to a postsched service, with TLS when the environment configures it."""
    credentials = TLSSettings.from_env(env).channel_credentials()
    return grpc.insecure_channel(addr) if credentials is None else grpc.secure_channel(addr, credentials)


def is_loopback(addr: str) -> bool:
    """Whether host:port listens on the loopback interface only."""
    host = addr.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface
