"""An official ``@openim/client-sdk`` user takes part in a group with bridge users:
the same group events and the same messages on both faces."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.interop.jsclient import PLATFORM_WEB, JsClient, PageServer
from tests.support.stack import Stack

pytestmark = pytest.mark.interop


async def test_group_flow_with_official_client_and_bridge_users(
    browser: Browser, page_server: PageServer, stack: Stack
) -> None:
    js_id, a_id, b_id = await stack.new_users(3, prefix="gi")
    a = await stack.login(a_id)
    await stack.login(b_id)  # B is a live bridge member, kicked later
    sa = await a.stream()
    js = await JsClient.start(browser, name=js_id, page_server=page_server)
    try:
        await js.login(js_id, await stack.token(js_id), PLATFORM_WEB, stack.api_url, stack.ws_url)
        mark = await js.mark()
        group = await a.call(
            "/v1/group/create_group", {"memberUserIDs": [js_id, b_id], "groupInfo": {"groupName": "mixed"}}
        )
        gid = group["groupID"]
        await js.wait_event("OnJoinedGroupAdded", {"data": {"groupID": gid}}, since=mark)

        # bridge -> group: the official client receives it
        msg = await a.call("/v1/message/create_text_message", {"text": "hi group"})
        await a.call("/v1/message/send_message", {"message": msg, "groupID": gid})
        await js.wait_event(
            ["OnRecvNewMessages", "OnRecvNewMessage"], "e => JSON.stringify(e.data).includes('hi group')", since=mark
        )

        # official client -> group: the bridge user receives it
        jmsg = await js.call("createTextMessage", "hi from js")
        await js.call("sendMessage", {"recvID": "", "groupID": gid, "message": jmsg})
        (got,) = await sa.wait_for(
            "OnRecvNewMessage", lambda d: d["data"].get("textElem", {}).get("content") == "hi from js"
        )
        assert got.json["data"]["groupID"] == gid and got.json["data"]["sendID"] == js_id

        # membership and info changes reach the official client
        await a.call("/v1/group/kick_group_member", {"groupID": gid, "userIDList": [b_id]})
        await js.wait_event("OnGroupMemberDeleted", {"data": {"groupID": gid, "userID": b_id}}, since=mark)
        await a.call("/v1/group/set_group_info", {"groupID": gid, "groupName": "renamed"})
        await js.wait_event("OnGroupInfoChanged", {"data": {"groupID": gid, "groupName": "renamed"}}, since=mark)

        # the official client quits; the bridge owner sees it
        await js.call("quitGroup", gid)
        await sa.wait_for("OnGroupMemberDeleted", lambda d: d["data"]["userID"] == js_id)
        members = await a.call("/v1/group/get_group_member_list", {"groupID": gid})
        assert [m["userID"] for m in members] == [a_id]
        await js.assert_no_errors()
    finally:
        await js.close()
        await sa.close()
