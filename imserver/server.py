"""Run imserver (HTTP API + message gateway) inside the current event loop.

`run_imserver` is what the bridge embeds and what tests start (ports 0 =
ephemeral). The HTTP API runs under uvicorn on a socket bound here, as a task
of the caller's loop; `_EmbeddedServer` keeps uvicorn from installing SIGINT/
SIGTERM handlers (`uvicorn.Server.serve` wraps everything in
`capture_signals`, which would steal them from the host process) and reports
start-up through an event instead of the `started` flag being polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import AsyncIterator, Generator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from imserver.api.context import ApiContext
from imserver.app import create_api_app
from imserver.db import create_all, make_engine, make_sessionmaker
from imserver.gateway import Hub, start_gateway
from imserver.msgwriter import close_writer
from imserver.secret import load_or_create_secret
from imserver.settings import ImServerSettings
from imserver.tokens import TokenService

__all__ = ["RunningImServer", "run_imserver", "serve_api"]

logger = logging.getLogger(__name__)

_STARTUP_TIMEOUT = 10.0
_GRACEFUL_SHUTDOWN_SECONDS = 5
# Idle keep-alive connections are the client's to close. open-im-server serves its API with
# Go's net/http and no IdleTimeout (internal/api: http.Server{Addr, Handler}), so it never
# closes an idle one; uvicorn's default 5 s equals httpx's pool expiry (the bridge's upstream
# client), and a request written as the server's timer fires meets a reset: the bridge's
# "502 NetworkError ReadError()" on a login under load. Longer than httpx's 5 s and Go's
# http.DefaultTransport 90 s.
KEEP_ALIVE_SECONDS = 120


@dataclass(frozen=True, slots=True)
class RunningImServer:
    api_url: str
    ws_url: str
    settings: ImServerSettings
    tokens: TokenService
    hub: Hub
    sessionmaker: async_sessionmaker[AsyncSession]
    api: ApiContext


class _EmbeddedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.started_event = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The embedding process owns SIGINT/SIGTERM; shutdown is `should_exit`.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.started_event.set()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP, not 0: asyncio enables TCP_NODELAY on accepted sockets only
    # for that proto (base_events._set_nodelay), and without it every response waits ~40 ms
    # for the peer's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:  # say which port: the imserver binds two
            raise OSError(exc.errno, f"port {port} on {host} is already in use") from exc
        raise
    return sock


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@asynccontextmanager
async def serve_api(app: ASGIApp, host: str, port: int) -> AsyncIterator[int]:
    """Serve `app` with uvicorn on host:port (0 = ephemeral) in this loop; yields the port."""
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="imserver-api")
    try:
        started = asyncio.create_task(server.started_event.wait())
        done, _ = await asyncio.wait({started, task}, timeout=_STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if started not in done:
            raise RuntimeError("imserver HTTP API did not start")
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()


@asynccontextmanager
async def run_imserver(
    settings: ImServerSettings, *, api_port: int | None = None, ws_port: int | None = None
) -> AsyncIterator[RunningImServer]:
    """Start database, HTTP API and gateway; stop them all on exit.

    Without a configured `settings.secret`, the one kept in the data dir is used (and
    written to `settings.secret`, so the caller can show it).
    """
    if not settings.secret:
        settings.secret = load_or_create_secret(settings.data_dir)
    engine = make_engine(settings.resolved_database_url())
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        await create_all(engine)
        # Runs before engine.dispose: what senders queued is stored before the pool closes.
        stack.push_async_callback(close_writer, engine)
        sessionmaker = make_sessionmaker(engine)
        tokens = TokenService(settings, sessionmaker)
        hub = Hub()
        ctx = ApiContext.build(settings, sessionmaker, tokens, hub)
        await ctx.users.ensure_admins()
        port = await stack.enter_async_context(
            serve_api(create_api_app(ctx), settings.host, settings.api_port if api_port is None else api_port)
        )
        gateway = await start_gateway(
            settings,
            tokens,
            hub,
            sessionmaker,
            settings.host,
            settings.ws_port if ws_port is None else ws_port,
            is_blocked=ctx.blacks.is_blocked,
            group_chat=ctx.group_chat,
        )
        stack.push_async_callback(gateway.close)
        host = _url_host(settings.host)
        ctx.objects.public_url = f"http://{host}:{port}"  # signed object URLs are absolute
        running = RunningImServer(
            api_url=f"http://{host}:{port}",
            ws_url=f"ws://{host}:{gateway.port}",
            settings=settings,
            tokens=tokens,
            hub=hub,
            sessionmaker=sessionmaker,
            api=ctx,
        )
        logger.debug("imserver API %s, gateway %s", running.api_url, running.ws_url)
        yield running
