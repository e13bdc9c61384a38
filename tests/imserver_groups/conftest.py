"""One real imserver (HTTP API + gateway on loopback, SQLite under tmp) for the group tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.imserver.conftest import start_im
from tests.imserver_groups.support import Kit


@pytest.fixture(scope="session")
async def group_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def group_im(tmp_path_factory: pytest.TempPathFactory, group_http: httpx.AsyncClient) -> AsyncIterator[Kit]:
    async with start_im(tmp_path_factory.mktemp("imserver-groups"), group_http, None) as im:
        yield Kit(im, AsyncExitStack())


@pytest.fixture
async def kit(group_im: Kit) -> AsyncIterator[Kit]:
    """The shared server; the gateway clients a test opens close when it ends."""
    async with AsyncExitStack() as stack:
        yield Kit(group_im.im, stack)
