"""Group functions over oimws with the positional arguments open-im-sdk sends, next to REST + SSE users."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from core.registry import all_functions
from tests.oimws.client import OimwsClient, ws_url
from tests.support.stack import Stack


async def _eventually(get: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """Call `get` until `ok` holds for its answer (a condition with a deadline)."""
    deadline = time.monotonic() + timeout
    while not ok(value := await get()):
        assert time.monotonic() < deadline, f"still {value!r} after {timeout}s"
        await asyncio.sleep(0.02)
    return value


async def test_group_functions_with_positional_arguments(stack: Stack) -> None:
    if "CreateGroup" not in all_functions():
        pytest.skip("core's function registry has no group functions yet")
    a_id, b_id, c_id = await stack.new_users(3, prefix="g")
    b, c = await stack.login(b_id), await stack.login(c_id)
    sb, sc = await b.stream(), await c.stream()
    ws = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    try:
        assert (await ws.login(await stack.token(a_id))).err_code == 0

        # B's group: A asks to join with [groupID, reqMsg, joinSource, ex]; B accepts over REST.
        theirs = (await b.call("/v1/group/create_group", {"memberUserIDs": [c_id], "groupInfo": {"groupName": "b"}}))[
            "groupID"
        ]
        await ws.call("JoinGroup", theirs, "let me in", 3, "")
        (applied,) = await sb.wait_for("OnGroupApplicationAdded")
        # (reqMsg is not checked: the group request loses it on the REST path too, a core/imserver matter.)
        assert applied.json["data"]["userID"] == a_id and applied.json["data"]["joinSource"] == 3
        await b.call("/v1/group/accept_group_application", {"groupID": theirs, "fromUserID": a_id})
        assert (await ws.wait_event("OnJoinedGroupAdded")).value["groupID"] == theirs
        # The joiner's core syncs the members right after OnJoinedGroupAdded.
        await _eventually(
            lambda: ws.call("GetGroupMemberList", theirs, 0, 0, 100),
            lambda members: {m["userID"] for m in members} == {a_id, b_id, c_id},
        )
        (member,) = await ws.call("GetSpecifiedGroupMembersInfo", theirs, json.dumps([c_id]))
        assert member["userID"] == c_id
        assert [m["userID"] for m in await ws.call("GetGroupMemberOwnerAndAdmin", theirs)] == [b_id]
        (info,) = await ws.call("GetSpecifiedGroupsInfo", json.dumps([theirs]))
        assert info["groupName"] == "b"

        # A's own group: the params object may carry more than the model knows, at any depth (as Go).
        created = await ws.call(
            "CreateGroup",
            json.dumps(
                {
                    "memberUserIDs": [c_id],
                    "groupInfo": {"groupName": "mine", "groupType": 2, "groupID": "", "memberCount": 0},
                    "sendMessage": False,
                }
            ),
        )
        mine = created["groupID"]
        assert created["ownerUserID"] == a_id
        await ws.call("InviteUserToGroup", mine, "welcome", json.dumps([b_id]))
        await sb.wait_for("OnJoinedGroupAdded", lambda e: e["data"]["groupID"] == mine)
        await ws.call("ChangeGroupMute", mine, True)
        await ws.call("ChangeGroupMemberMute", mine, c_id, 60)
        await ws.call("KickGroupMember", mine, "bye", json.dumps([c_id]))
        await sc.wait_for("OnJoinedGroupDeleted", lambda e: e["data"]["groupID"] == mine)
        await ws.call("TransferGroupOwner", mine, b_id)
        await ws.call("QuitGroup", theirs)
        assert (await ws.wait_event("OnJoinedGroupDeleted", lambda g: g["groupID"] == theirs)).err_code == 0
        assert [g["groupID"] for g in await ws.call("GetJoinedGroupList")] == [mine]
    finally:
        await ws.close()
        await sb.close()
        await sc.close()
