"""The friend flow between an oimws user (positional arguments, as open-im-sdk sends them)
and a REST + SSE user, over real loopback sockets."""

from __future__ import annotations

import json

from tests.oimws.client import OimwsClient, ws_url
from tests.support.stack import Stack


async def test_friend_flow_between_ws_and_rest_users(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    b = await stack.login(b_id)
    sb = await b.stream()
    try:
        assert (await c.login(await stack.token(a_id))).err_code == 0

        # addFriend sends one argument: the JSON text of {toUserID, reqMsg}.
        mark = c.mark()
        op = await c.send("AddFriend", json.dumps({"toUserID": b_id, "reqMsg": "hi"}), op="op-add")
        answer = await c.answer(op, ("AddFriend",))
        assert (answer.err_code, answer.data) == (0, '""')
        # The event the call caused comes first, carrying the call's operationID (as the Go SDK orders them).
        added = await c.wait_event("OnFriendApplicationAdded", since=mark)
        assert c.frames.index(added) < c.frames.index(answer)
        assert added.operation_id == "op-add" and added.value["toUserID"] == b_id
        (seen,) = await sb.wait_for("OnFriendApplicationAdded")
        assert seen.json["data"]["reqMsg"] == "hi"
        (sent,) = await c.call("GetFriendApplicationListAsApplicant")
        assert (sent["toUserID"], sent["handleResult"]) == (b_id, 0)

        # B accepts over REST; A's socket learns it.
        await b.call("/v1/friend/accept_friend_application", {"toUserID": a_id, "handleMsg": "ok"})
        friend = await c.wait_event("OnFriendAdded")
        assert friend.value["userID"] == b_id
        accepted = await c.wait_event("OnFriendApplicationAccepted")
        assert accepted.value["handleResult"] == 1
        assert [f["userID"] for f in await c.call("GetFriendList")] == [b_id]
        assert [f["userID"] for f in await c.call("GetFriendList", True)] == [b_id]
        # checkFriend / getSpecifiedFriendsInfo send the ID list as JSON text.
        assert await c.call("CheckFriend", json.dumps([b_id])) == [{"userID": b_id, "result": 1}]
        (info,) = await c.call("GetSpecifiedFriendsInfo", json.dumps([b_id]))
        assert info["userID"] == b_id

        # Remark (one object argument), search.
        await c.call("SetFriendRemark", json.dumps({"toUserID": b_id, "remark": "bestie"}))
        changed = await c.wait_event("OnFriendInfoChanged")
        assert changed.value["remark"] == "bestie"
        search = {"keywordList": ["best"], "isSearchUserID": False, "isSearchNickname": False, "isSearchRemark": True}
        assert [f["userID"] for f in await c.call("SearchFriends", json.dumps(search))] == [b_id]

        # addBlack sends [toUserID, ex]; removeBlack and deleteFriend send the plain userID.
        await c.call("AddBlack", b_id, "")
        assert (await c.wait_event("OnBlackAdded")).value["userID"] == b_id
        assert [x["userID"] for x in await c.call("GetBlackList")] == [b_id]
        assert await c.call("CheckFriend", json.dumps([b_id])) == [{"userID": b_id, "result": 0}]
        await c.call("RemoveBlack", b_id)
        assert (await c.wait_event("OnBlackDeleted")).value["userID"] == b_id
        await c.call("DeleteFriend", b_id)
        assert (await c.wait_event("OnFriendDeleted")).value["userID"] == b_id
        assert await c.call("GetFriendList") == []

        # A server error passes through with its OpenIM errCode.
        again = await c.request("AddFriend", json.dumps({"toUserID": a_id}))
        assert again.err_code == 1301 and again.event == "AddFriend"
    finally:
        await c.close()
        await sb.close()


async def test_user_functions(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    try:
        assert (await c.login(await stack.token(a_id))).err_code == 0
        await c.call("SetSelfInfo", json.dumps({"nickname": "Alice", "userID": a_id, "createTime": 1}))
        updated = await c.wait_event("OnSelfInfoUpdated")
        assert updated.value["nickname"] == "Alice"
        (user,) = await c.call("GetUsersInfo", json.dumps([b_id]))
        assert user["userID"] == b_id
    finally:
        await c.close()
