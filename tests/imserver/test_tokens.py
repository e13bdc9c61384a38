"""TokenService on its own (SQLite file): issue policy and kicking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from core.protocol.errcodes import ErrCode
from imserver.db import create_all, make_engine, make_sessionmaker
from imserver.errors import ImError
from imserver.settings import ImServerSettings
from imserver.tokens import TokenService
from tests.support.clock import MovableClock
from tests.support.imadmin import ADMIN_SECRET


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[TokenService, MovableClock]]:
    clock = MovableClock()
    settings = ImServerSettings(data_dir=tmp_path, secret=ADMIN_SECRET, clock=clock, max_tokens_one_end=2)
    engine = make_engine(settings.resolved_database_url())
    await create_all(engine)
    try:
        yield TokenService(settings, make_sessionmaker(engine)), clock
    finally:
        await engine.dispose()


async def _code(tokens: TokenService, token: str) -> int:
    try:
        await tokens.verify(token)
    except ImError as exc:
        return int(exc.code)
    return 0


async def test_mint_and_verify(service: tuple[TokenService, MovableClock]) -> None:
    tokens, clock = service
    before = int(clock())
    token, ttl = await tokens.mint("alice", 5)
    after = int(clock())
    claims = await tokens.verify(token)
    # The clock is real time: the second may tick between mint and now.
    assert (claims.user_id, claims.platform_id) == ("alice", 5)
    assert before + ttl <= claims.expire_at <= after + ttl
    assert tokens.is_admin("imAdmin") and not tokens.is_admin("alice")


async def test_issue_caps_tokens_per_terminal(service: tuple[TokenService, MovableClock]) -> None:
    tokens, clock = service
    issued = []
    for _ in range(3):
        issued.append((await tokens.mint("bob", 2))[0])
        clock.advance(1)
    other_platform, _ = await tokens.mint("bob", 3)
    # max_tokens_one_end = 2: the oldest token of platform 2 was kicked by the third
    assert [await _code(tokens, t) for t in issued] == [ErrCode.TokenKickedError, 0, 0]
    assert await _code(tokens, other_platform) == 0


async def test_mark_kicked_spares_one_token(service: tuple[TokenService, MovableClock]) -> None:
    tokens, clock = service
    first, _ = await tokens.mint("carol", 5)
    clock.advance(1)
    second, _ = await tokens.mint("carol", 5)
    await tokens.mark_kicked("carol", 5, except_token=second)
    assert await _code(tokens, first) == ErrCode.TokenKickedError
    assert await _code(tokens, second) == 0
    await tokens.mark_kicked("carol", 5)
    assert await _code(tokens, second) == ErrCode.TokenKickedError


async def test_expired_tokens_are_pruned_on_issue(service: tuple[TokenService, MovableClock]) -> None:
    tokens, clock = service
    old, ttl = await tokens.mint("dave", 5)
    clock.advance(ttl + 1)
    assert await _code(tokens, old) == ErrCode.TokenExpiredError
    await tokens.mint("dave", 5)
    clock.advance(-(ttl + 1))
    # back before its expiry the old token is valid JWT-wise but gone from the table
    assert await _code(tokens, old) == ErrCode.TokenNotExistError


@pytest.fixture
async def counted(tmp_path: Path) -> AsyncIterator[tuple[TokenService, MovableClock, list[str]]]:
    """A TokenService and the SQL statements its database ran (a real engine event)."""
    clock = MovableClock()
    settings = ImServerSettings(data_dir=tmp_path, secret=ADMIN_SECRET, clock=clock, max_tokens_one_end=2)
    engine = make_engine(settings.resolved_database_url())
    await create_all(engine)
    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    try:
        yield TokenService(settings, make_sessionmaker(engine)), clock, statements
    finally:
        await engine.dispose()


async def test_a_remembered_token_is_checked_without_the_table(
    counted: tuple[TokenService, MovableClock, list[str]],
) -> None:
    tokens, _, statements = counted
    token, _ = await tokens.mint("erin", 5)
    await tokens.verify(token)
    statements.clear()
    assert (await tokens.verify(token)).user_id == "erin"
    assert statements == []


async def test_revocations_apply_to_the_next_check_of_a_remembered_token(
    counted: tuple[TokenService, MovableClock, list[str]],
) -> None:
    tokens, clock, _ = counted
    a, _ = await tokens.mint("fay", 5)
    other_platform, _ = await tokens.mint("fay", 2)
    clock.advance(1)
    b, _ = await tokens.mint("fay", 5)
    for t in (a, b, other_platform):
        await tokens.verify(t)  # all three remembered
    # the gateway's multi-login kick (mark_kicked sparing the new connection's token)
    await tokens.mark_kicked("fay", 5, except_token=b)
    assert [await _code(tokens, t) for t in (a, b, other_platform)] == [ErrCode.TokenKickedError, 0, 0]
    # the issue policy: max_tokens_one_end = 2 kicks the oldest normal token on mint
    clock.advance(1)
    c, _ = await tokens.mint("fay", 2)
    clock.advance(1)
    await tokens.mint("fay", 2)
    assert [await _code(tokens, t) for t in (other_platform, c)] == [ErrCode.TokenKickedError, 0]
    # force_logout / kick of the whole platform
    await tokens.mark_kicked("fay", 5)
    assert await _code(tokens, b) == ErrCode.TokenKickedError


async def test_a_remembered_token_still_expires(counted: tuple[TokenService, MovableClock, list[str]]) -> None:
    tokens, clock, _ = counted
    token, ttl = await tokens.mint("gus", 5)
    await tokens.verify(token)
    clock.advance(ttl + 1)
    assert await _code(tokens, token) == ErrCode.TokenExpiredError
    clock.advance(-(ttl + 1))
    assert await _code(tokens, token) == 0
