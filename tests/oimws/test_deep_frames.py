"""Deeply nested JSON in a frame, its `data` or an argument is answered 10002; the socket survives.

Before the depth limit, `json.loads` raised RecursionError out of the reader
task and the socket dropped without a close frame.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.oimws.client import OimwsClient, ws_url
from tests.support.stack import Stack

PROTOCOL = "Protocol Error"
DEEP = "[" * 3000 + "]" * 3000


def _req(func: str, data: Any, op: str = "op-deep", **extra: Any) -> str:
    return json.dumps({"reqFuncName": func, "operationID": op, "data": data, **extra})


# (frame sent, answer event, answer operationID, words the errMsg must contain)
CASES: list[tuple[str | bytes, str, str, str]] = [
    (DEEP, PROTOCOL, "", "frame is refused: JSON nests deeper than 64 levels"),
    ('{"reqFuncName": "GetLoginUserID", "x": ' + DEEP + "}", PROTOCOL, "", "deeper than 64"),
    (('{"reqFuncName": "GetLoginUserID", "x": ' + DEEP + "}").encode(), PROTOCOL, "", "deeper than 64"),
    ("[" * 65 + "]" * 65, PROTOCOL, "", "deeper than 64"),
    (_req("GetFriendList", DEEP), "GetFriendList", "op-deep", "data is refused: JSON nests deeper than 64 levels"),
    (_req("GetFriendList", "[" + "[" * 64 + "]" * 64 + "]"), "GetFriendList", "op-deep", "deeper than 64"),
    # JSON text inside an argument (AddFriend takes its params object as JSON text).
    (
        _req("AddFriend", json.dumps(['{"toUserID": "x", "ex": ' + DEEP + "}"])),
        "AddFriend",
        "op-deep",
        "argument 1 (params object) is not valid JSON text: JSON nests deeper than 64 levels",
    ),
]


@pytest.fixture
async def client(stack: Stack) -> Any:
    (a_id,) = await stack.new_users(1)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    assert (await c.login(await stack.token(a_id))).err_code == 0
    yield c
    await c.close()


async def test_deeply_nested_frames_are_answered_and_the_socket_survives(stack: Stack, client: OimwsClient) -> None:
    for frame, event, op, words in CASES:
        mark = client.mark()
        await client.send_raw(frame)
        answer = await client.wait_for(lambda f: f.err_code != 0, what=f"an error for {frame[:60]!r}", since=mark)
        assert (answer.event, answer.operation_id, answer.err_code) == (event, op, 10002), (frame[:80], answer)
        assert words in answer.err_msg, (frame[:80], answer.err_msg)
        assert await client.call("GetLoginUserID") == client.user_id
    assert not client.closed


async def test_nesting_at_the_limit_is_read(client: OimwsClient) -> None:
    """64 levels are allowed: the frame object plus 63 (a deep userID is then refused by its type)."""
    deep_user = "[" * 63 + "]" * 63
    mark = client.mark()
    await client.send_raw('{"reqFuncName": "GetLoginUserID", "operationID": "op-64", "userID": ' + deep_user + "}")
    answer = await client.wait_for(lambda f: f.operation_id == "op-64", since=mark)
    assert answer.err_code == 10002 and "userID must be a string" in answer.err_msg
