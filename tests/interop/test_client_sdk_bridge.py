"""A bridge user (REST + SSE only) and an official ``@openim/client-sdk`` user make friends.

Both directions: the official client applies and the bridge user accepts, then the
bridge user applies and the official client accepts. Each side is checked through
its own face only: SSE events and REST lists for the bridge user, SDK events and
SDK calls for the official client. Both talk to the same embedded imserver.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.interop.jsclient import PLATFORM_WEB, JsClient, PageServer
from tests.support.stack import Stack

pytestmark = pytest.mark.interop

LIST = {"offset": 0, "count": 50}


async def test_official_client_and_bridge_user_make_friends_both_ways(
    browser: Browser, page_server: PageServer, stack: Stack
) -> None:
    js_id, br_id, br2_id = await stack.new_users(3, prefix="x")
    bridge_user = await stack.login(br_id)
    bridge_user2 = await stack.login(br2_id)
    stream, stream2 = await bridge_user.stream(), await bridge_user2.stream()
    js = await JsClient.start(browser, name=js_id, page_server=page_server)
    try:
        await js.login(js_id, await stack.token(js_id), PLATFORM_WEB, stack.api_url, stack.ws_url)

        # -- official client applies, bridge user accepts --------------------------------------
        mark = await js.mark()
        await js.call("addFriend", {"toUserID": br_id, "reqMsg": "from js"}, operation_id="op-js-add")
        (ev,) = await stream.wait_for("OnFriendApplicationAdded")
        assert ev.json["data"]["fromUserID"] == js_id and ev.json["data"]["reqMsg"] == "from js"
        assert ev.json["operationID"] == "op-js-add"
        recv = await bridge_user.call("/v1/friend/get_friend_application_list_as_recipient", {})
        assert [(r["fromUserID"], r["handleResult"]) for r in recv] == [(js_id, 0)]

        await bridge_user.call("/v1/friend/accept_friend_application", {"toUserID": js_id, "handleMsg": "yes"})
        await js.wait_event(
            "OnFriendApplicationAccepted",
            {"data": {"fromUserID": js_id, "toUserID": br_id, "handleResult": 1}},
            since=mark,
        )
        (added,) = await stream.wait_for("OnFriendAdded")
        assert added.json["data"]["userID"] == js_id
        assert [f["userID"] for f in await bridge_user.call("/v1/friend/get_friend_list")] == [js_id]
        assert [f["userID"] for f in await js.call("getFriendListPage", LIST)] == [br_id]

        # -- the official client's remark and black list do not leak into the bridge user's view
        await js.call("updateFriends", {"friendUserIDs": [br_id], "remark": "bridge pal"})
        await js.wait_event("OnFriendInfoChanged", {"data": {"userID": br_id, "remark": "bridge pal"}}, since=mark)

        # -- bridge user applies, official client accepts --------------------------------------
        mark = await js.mark()
        await bridge_user2.call("/v1/friend/add_friend", {"toUserID": js_id, "reqMsg": "from bridge"}, op="op-br-add")
        ev2 = await js.wait_event(
            "OnFriendApplicationAdded", {"data": {"fromUserID": br2_id, "reqMsg": "from bridge"}}, since=mark
        )
        assert ev2["operationID"] == "op-br-add"
        (mine,) = await stream2.wait_for("OnFriendApplicationAdded")
        assert mine.json["operationID"] == "op-br-add"

        await js.call("acceptFriendApplication", {"toUserID": br2_id, "handleMsg": "sure"})
        await js.wait_event("OnFriendAdded", {"data": {"userID": br2_id}}, since=mark)
        (acc,) = await stream2.wait_for("OnFriendApplicationAccepted")
        assert acc.json["data"]["handleMsg"] == "sure"
        (added2,) = await stream2.wait_for("OnFriendAdded")
        assert added2.json["data"]["userID"] == js_id
        assert {f["userID"] for f in await js.call("getFriendListPage", LIST)} == {br_id, br2_id}

        # -- the official client deletes; the bridge user's one-way friendship stays -----------
        await js.call("deleteFriend", br2_id)
        await js.wait_event("OnFriendDeleted", {"data": {"userID": br2_id}}, since=mark)
        assert [f["userID"] for f in await bridge_user2.call("/v1/friend/get_friend_list")] == [js_id]

        # -- the bridge user blacklists the official client -------------------------------------
        await bridge_user.call("/v1/friend/add_black", {"blackUserID": js_id})
        await stream.wait_for("OnBlackAdded")
        assert await bridge_user.call("/v1/friend/check_friend", {"userIDList": [js_id]}) == [
            {"userID": js_id, "result": 0}
        ]
        await js.assert_no_errors()
    finally:
        await js.close()
        await stream.close()
        await stream2.close()
