"""Loopback listeners for the outbound guard's tests: one that only counts who connects (a
"forbidden" address: zero connections proves nothing was called) and a small HTTP receiver
whose answers a test chooses."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Awaitable, Callable

from aiohttp import web

from postsched.embedded import free_port


class CountingListener:
    """Accepts TCP connections on host:port, counts them and closes them at once."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "CountingListener":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Receiver:
    """An aiohttp server on host (a free port) in a thread of its own; `handler` answers every path."""

    def __init__(self, handler: Handler, host: str = "127.0.0.2") -> None:
        self.host = host
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.requests = 0
        self._handler = handler
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None
        self._transports: list[asyncio.Transport] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if request.transport is not None:
            self._transports.append(request.transport)
        await request.read()
        return await self._handler(request)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, self.host, self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> "Receiver":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        for transport in self._transports:  # what is still buffered for a caller who left goes too
            self._loop.call_soon_threadsafe(transport.abort)
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            # Handlers still waiting (a slow answer) end here; transports finish closing.
            asyncio.run_coroutine_threadsafe(_cancel_the_rest(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


async def _cancel_the_rest() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.2)


def redirect_to(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


def huge_answer(status: int, megabytes: int) -> Handler:
    """Streams `megabytes` MiB of body (stops when the caller goes away)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        chunk = b"x" * (1 << 16)
        try:
            for _ in range(megabytes * 16):
                if request.transport is None or request.transport.is_closing():
                    break  # the caller stopped reading and went away
                await asyncio.wait_for(response.write(chunk), 5)
        except (ConnectionError, RuntimeError, asyncio.TimeoutError):
            pass
        return response

    return handler


def loopback_name() -> str:
    """A host name (not one the guard refuses by name) that resolves to a loopback address here:
    the machine's own name, which /etc/hosts maps to 127.0.0.1 on these machines."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    assert addresses and all(a.startswith("127.") or a == "::1" for a in addresses), (
        f"the test needs a name that resolves to loopback; {name} resolves to {addresses}")
    return name
