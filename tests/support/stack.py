"""Start real servers on loopback for tests: imserver, then a bridge pointed at it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from bridge.app import create_app
from bridge.http_limits import HttpLimits
from bridge.pool import SessionPool
from bridge.server import advertised_url, bind, serve_app
from bridge.settings import BridgeSettings
from core.checkpoint import CheckpointStore
from core.core import Core
from imserver.server import run_imserver
from imserver.settings import ImServerSettings
from tests.support.clock import MovableClock
from tests.support.imadmin import ADMIN_SECRET, register_users, user_token
from tests.support.sseclient import SseReader

__all__ = ["Bridge", "BridgeUser", "Stack", "run_bridge", "run_stack", "run_stack_with"]


@dataclass
class Bridge:
    url: str
    app: Any
    settings: BridgeSettings

    @property
    def pool(self) -> SessionPool:
        pool: SessionPool = self.app.state.services.pool
        return pool

    def core(self, session_id: str) -> Core:
        """The live core of a session on this node (fails the test if there is none)."""
        handle = self.pool.handle(session_id)
        assert handle is not None and isinstance(handle.core, Core), f"session {session_id} has no live core here"
        return handle.core

    @property
    def checkpoints(self) -> CheckpointStore:
        store: CheckpointStore = self.app.state.services.checkpoints
        return store


@dataclass
class Stack:
    api_url: str
    ws_url: str
    bridge: Bridge
    im_clock: MovableClock
    bridge_clock: MovableClock
    http: httpx.AsyncClient
    imserver: Any

    async def new_users(self, n: int, prefix: str = "u") -> list[str]:
        ids = [f"{prefix}{uuid.uuid4().hex[:10]}" for _ in range(n)]
        await register_users(self.http, self.api_url, *ids)
        return ids

    async def token(self, user_id: str, platform_id: int = 5) -> str:
        return await user_token(self.http, self.api_url, user_id, platform_id)

    async def login(self, user_id: str, platform_id: int = 5, token: str | None = None) -> BridgeUser:
        token = token or await self.token(user_id, platform_id)
        r = await self.http.post(
            f"{self.bridge.url}/v1/login", json={"userID": user_id, "token": token, "platformID": platform_id}
        )
        assert r.status_code == 200, r.text
        return BridgeUser(self, user_id, r.json()["data"]["sessionToken"], r.json()["data"]["sessionID"])


@dataclass
class BridgeUser:
    stack: Stack
    user_id: str
    session_token: str
    session_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session_token}"}

    async def post(self, path: str, body: Any = None, op: str | None = None, **headers: str) -> httpx.Response:
        hdrs = {**self.auth, **headers}
        if op:
            hdrs["operationID"] = op
        kwargs: dict[str, Any] = {"headers": hdrs}
        if body is not None:
            kwargs["json"] = body
        return await self.stack.http.post(f"{self.stack.bridge.url}{path}", **kwargs)

    async def call(self, path: str, body: Any = None, op: str | None = None) -> Any:
        r = await self.post(path, body, op)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json()["data"]

    async def session(self) -> Any:
        r = await self.stack.http.get(f"{self.stack.bridge.url}/v1/session", headers=self.auth)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    async def stream(self, last_event_id: int | None = None) -> SseReader:
        headers = dict(self.auth)
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        return await SseReader(self.stack.http, f"{self.stack.bridge.url}/v1/events", headers).start()


@contextlib.asynccontextmanager
async def run_bridge(
    api_url: str, ws_url: str, data_dir: Path, clock: MovableClock, **overrides: Any
) -> AsyncIterator[Bridge]:
    # In memory unless a test asks for the durable stores (ephemeral=False): tests move the
    # bridge clock by hand, and most need no restart (tests/bridge/test_restart.py does).
    settings = BridgeSettings(upstream_api=api_url, upstream_ws=ws_url, data_dir=data_dir, clock=clock, ephemeral=True)
    settings = replace(settings, **overrides)
    sock = bind("127.0.0.1", 0)  # bound first: other nodes forward to its advertised URL
    settings.advertise_url = settings.advertise_url or advertised_url(sock)
    app = create_app(settings)
    try:
        async with serve_app(app, sock=sock, limits=HttpLimits.of(settings)) as running:
            yield Bridge(running.url, app, settings)
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def run_stack(tmp: Path, **bridge_overrides: Any) -> AsyncIterator[Stack]:
    """imserver (defaults, secret ADMIN_SECRET) and a bridge with `bridge_overrides`."""
    async with run_stack_with(tmp, {}, **bridge_overrides) as stack:
        yield stack


@contextlib.asynccontextmanager
async def run_stack_with(tmp: Path, imserver: Mapping[str, Any], /, **bridge_overrides: Any) -> AsyncIterator[Stack]:
    """run_stack with ImServerSettings overrides (e.g. cors_any_origin for browser pages)."""
    im_clock = MovableClock()
    bridge_clock = MovableClock(wall=False)
    ims = replace(ImServerSettings(data_dir=tmp / "imserver", secret=ADMIN_SECRET, clock=im_clock), **imserver)
    async with (
        run_imserver(ims, api_port=0, ws_port=0) as srv,
        run_bridge(srv.api_url, srv.ws_url, tmp / "bridge", bridge_clock, **bridge_overrides) as bridge,
        httpx.AsyncClient(timeout=30.0) as http,
    ):
        yield Stack(srv.api_url, srv.ws_url, bridge, im_clock, bridge_clock, http, srv)
