"""imserver under test: real servers on loopback sockets, SQLite files under tmp_path.

* `im`: the whole imserver (`run_imserver`, API + gateway) with a movable clock.
* `rec`: the HTTP API alone, wired to a RecordingHub, for notification checks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from imserver.api.context import ApiContext
from imserver.app import create_api_app
from imserver.db import create_all, make_engine, make_sessionmaker
from imserver.server import RunningImServer, run_imserver, serve_api
from imserver.settings import ImServerSettings
from imserver.tokens import TokenService
from tests.imserver.fakes import RecordingHub
from tests.support.clock import MovableClock
from tests.support.imadmin import ADMIN_SECRET, admin_token, call, register_users, user_token


@dataclass
class Server:
    """One running API under test and a client for it."""

    api_url: str
    http: httpx.AsyncClient
    clock: MovableClock
    settings: ImServerSettings
    admin: str

    async def call(self, route: str, body: Any, token: str | None, operation_id: str | None = None) -> Any:
        return await call(self.http, self.api_url, route, body, token, operation_id)

    async def users(self, n: int, prefix: str = "u") -> list[str]:
        ids = [f"{prefix}{uuid.uuid4().hex[:12]}" for _ in range(n)]
        await register_users(self.http, self.api_url, *ids, nickname_prefix="nick-")
        return ids

    async def token(self, user_id: str, platform_id: int = 5) -> str:
        return await user_token(self.http, self.api_url, user_id, platform_id)


@dataclass
class ImServer(Server):
    running: RunningImServer


@dataclass
class RecServer(Server):
    hub: RecordingHub


def _settings(tmp: Path, clock: MovableClock, database_url: str | None = None) -> ImServerSettings:
    return ImServerSettings(
        data_dir=tmp, secret=ADMIN_SECRET, clock=clock, database_url=database_url, max_body_bytes=64 * 1024
    )


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@asynccontextmanager
async def start_im(tmp: Path, http: httpx.AsyncClient, database_url: str | None) -> AsyncIterator[ImServer]:
    clock = MovableClock()
    settings = _settings(tmp, clock, database_url)
    async with run_imserver(settings, api_port=0, ws_port=0) as running:
        admin = await admin_token(http, running.api_url)
        yield ImServer(running.api_url, http, clock, settings, admin, running)


@pytest.fixture(scope="session")
async def im(tmp_path_factory: pytest.TempPathFactory, http: httpx.AsyncClient) -> AsyncIterator[ImServer]:
    async with start_im(tmp_path_factory.mktemp("imserver"), http, None) as server:
        yield server


@pytest.fixture(scope="session")
async def rec(tmp_path_factory: pytest.TempPathFactory, http: httpx.AsyncClient) -> AsyncIterator[RecServer]:
    clock = MovableClock()
    settings = _settings(tmp_path_factory.mktemp("imserver-rec"), clock)
    engine = make_engine(settings.resolved_database_url())
    try:
        await create_all(engine)
        sessionmaker = make_sessionmaker(engine)
        hub = RecordingHub()
        ctx = ApiContext.build(settings, sessionmaker, TokenService(settings, sessionmaker), hub)
        await ctx.users.ensure_admins()
        async with serve_api(create_api_app(ctx), "127.0.0.1", 0) as port:
            api_url = f"http://127.0.0.1:{port}"
            yield RecServer(api_url, http, clock, settings, await admin_token(http, api_url), hub)
    finally:
        await engine.dispose()
