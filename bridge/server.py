"""Run an ASGI app with uvicorn inside the current event loop, on a bound socket.

Used by the CLI and by tests (port 0 = an ephemeral loopback port). The socket
is bound before uvicorn starts, so the port is known and there is no race.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

from bridge.http_limits import HttpLimits, protocol_class
from bridge.ws_close import BoundedCloseWebSockets

__all__ = ["RunningServer", "advertised_url", "bind", "run_loop", "serve_app"]


T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T], loop: str = "auto") -> T:
    """Run a server's top-level coroutine on the event loop the bridge's servers use
    (BRIDGE_EVENT_LOOP): uvloop, which uvicorn[standard] installs, unless asked for
    asyncio. bench/ab.py measured 10-14% less CPU per call, message and login on it,
    1.26x the cached-call rate and a lower p99 (bench/README.md)."""
    if loop not in ("auto", "uvloop", "asyncio"):
        main.close()
        raise ValueError(f"BRIDGE_EVENT_LOOP must be auto, uvloop or asyncio, got {loop!r}")
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                main.close()
                raise ValueError("BRIDGE_EVENT_LOOP=uvloop but uvloop is not installed") from None
        else:
            return uvloop.run(main)
    return asyncio.run(main)


@dataclass(slots=True)
class RunningServer:
    host: str
    port: int
    server: uvicorn.Server

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only
    # when the listener says TCP (else every response waits ~40 ms for Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"port {port} on {host} is already in use") from exc
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def advertised_url(sock: socket.socket) -> str:
    """How other hosts reach a server on ``sock``: its address, or this host's name for a wildcard bind."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = socket.getfqdn()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 30.0,
    log_level: str = "warning",
    sock: socket.socket | None = None,
    limits: HttpLimits | None = None,
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` on ``sock`` (bound by the caller, who needed the port first) or on ``host:port``.

    ``limits`` (default: the settings' defaults) bound request heads and read
    times: httptools with the checks of ``http_limits.py``.
    """
    limits = limits or HttpLimits()
    if sock is None:
        sock = bind(host, port)
    host = sock.getsockname()[0]
    # Keep idle client connections longer than a reverse proxy does (nginx and
    # ingress-nginx keep theirs up to 60 s): else the proxy may write a request
    # into a connection we are closing and the client sees a 502.
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        log_config=None,  # uvicorn's lines go to our handlers and format (bridge/logs.py)
        timeout_graceful_shutdown=5,
        timeout_keep_alive=75,
        http=protocol_class(limits),
        ws=BoundedCloseWebSockets,  # a peer that stops reading cannot hold a close off
        ws_max_size=limits.ws_max_bytes,
    )
    server = uvicorn.Server(config)
    # The host process owns signals; an embedded server must not take them.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn:{sock.getsockname()[1]}")
    try:
        # uvicorn exposes no start-up event, only the `started` flag.
        async with asyncio.timeout(startup_timeout):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("server stopped during start-up")
                await asyncio.sleep(0.01)
        yield RunningServer(host, sock.getsockname()[1], server)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
