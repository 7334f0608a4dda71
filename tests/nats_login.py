"""A NATS login attempt over a plain socket (the protocol's CONNECT and PING), for tests that prove
a server refuses it: nats-py leaves the socket of a refused connection behind."""

from __future__ import annotations

import json
import socket


def login(host: str, port: int, user: str | None = None, password: str | None = None) -> str:
    """The server's answer to a CONNECT (with these credentials, or none) and a PING: "PONG" when it
    lets the client in, else its -ERR line."""
    with socket.create_connection((host, port), timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"INFO ")
        options = {"verbose": False, "pedantic": False, "protocol": 1, "name": "login-check"}
        if user is not None:
            options.update(user=user, **{"pass": password or ""})
        sock.sendall(b"CONNECT " + json.dumps(options).encode() + b"\r\nPING\r\n")
        return reader.readline().decode().strip()
