"""One structured line per call and per refused login, never a token (issue 16)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bridge.logs import _JsonFormatter, _TextFormatter
from tests.support.stack import Stack


def _fields(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, Any]]:
    return [dict(getattr(r, "fields", {}), msg=r.getMessage()) for r in caplog.records if r.name == logger]


async def test_each_call_is_one_line_with_operation_user_platform_function_status_ms(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    (u,) = await stack.new_users(1, "log")
    user = await stack.login(u, 6)
    with caplog.at_level(logging.INFO, logger="openim.bridge.access"):
        await user.call("/v1/friend/get_friend_list", {}, op="log-op-1")
    (line,) = [f for f in _fields(caplog, "openim.bridge.access") if f.get("operationID") == "log-op-1"]
    assert line["function"] == "getFriendList" and line["status"] == 200 and line["userID"] == u
    assert line["platformID"] == 6 and isinstance(line["ms"], float)
    record = next(r for r in caplog.records if getattr(r, "fields", {}).get("operationID") == "log-op-1")
    out = json.loads(_JsonFormatter().format(record))
    assert out["operationID"] == "log-op-1" and out["function"] == "getFriendList"
    assert "operationID=log-op-1" in _TextFormatter().format(record)


async def test_a_refused_login_is_logged_without_its_token(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    (u,) = await stack.new_users(1, "log")
    wrong = await stack.token(u, 5)  # a real token, for the wrong platform
    with caplog.at_level(logging.INFO):
        r = await stack.http.post(f"{stack.bridge.url}/v1/login", json={"userID": u, "token": wrong, "platformID": 2})
    assert r.status_code == 401, r.text
    (refused,) = _fields(caplog, "openim.bridge.login")
    assert refused["userID"] == u and refused["platformID"] == 2 and refused["status"] == 401
    assert refused["msg"].startswith("login refused")
    assert all(
        wrong not in r.getMessage() and wrong not in json.dumps(getattr(r, "fields", {})) for r in caplog.records
    )
