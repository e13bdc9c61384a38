"""Friend routes end to end on SQLite (openim-v3.md 1.5.3)."""

from __future__ import annotations

from tests.imserver import scenarios
from tests.imserver.conftest import ImServer


async def test_friend_flow(im: ImServer) -> None:
    await scenarios.friend_flow(im)


async def test_version_flow(im: ImServer) -> None:
    await scenarios.version_flow(im)


async def test_black_version_flow(im: ImServer) -> None:
    await scenarios.black_version_flow(im)
