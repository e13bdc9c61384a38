"""Every JSON log line about a session (login, revive, park, drop, close) names the session
and its user in fields, not only in its text, so a log query by sessionID or userID finds
them all (issue 16). Session ids are logged by their 8-character prefix, as in the text."""

from __future__ import annotations

import json
import logging

import pytest

from bridge.logs import _JsonFormatter
from tests.support.stack import Stack


async def test_session_lines_carry_session_and_user_fields(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    (u,) = await stack.new_users(1, "slog")
    with caplog.at_level(logging.DEBUG):
        user = await stack.login(u, 5)
        await user.call("/v1/friend/get_friend_list", {}, op="slog-op-1")
        await user.post("/v1/logout", op="slog-op-2")
    fmt = _JsonFormatter()
    about = [json.loads(fmt.format(r)) for r in caplog.records if user.session_id[:8] in r.getMessage()]
    assert about, "no line about the session"
    prefix = user.session_id[:8]
    missing = [line for line in about if line.get("userID") != u or line.get("sessionID") != prefix]
    assert not missing, missing
