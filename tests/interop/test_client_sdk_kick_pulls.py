"""An official ``@openim/client-sdk`` owner kicks a bridge user: the bridge user's core does
no further pulls for that group, however much the group talks on (issue 13).

After a kick the server caps what the kicked user may read of the group at its max seq
then (open-im-server internal/rpc/group/group.go deleteMemberAndSetConversationSeq), while
GetMaxSeq keeps reporting the group's global max; the SDK advances its synced seq past the
cap (openim-sdk-core internal/interaction/msg_sync.go). Counted by the core's WS 1002
requests per conversation (MessageModule.range_pulls), across pushes and a reconnect sync.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser

from tests.interop.jsclient import PLATFORM_WEB, JsClient, PageServer
from tests.support.stack import Stack
from tests.support.wait import wait_until

pytestmark = pytest.mark.interop


def _text(e: Any) -> str:
    data = e["data"]
    return str(data["textElem"]["content"]) if data.get("textElem") else ""


async def test_kicked_by_the_official_client_the_bridge_user_pulls_the_group_no_more(
    browser: Browser, page_server: PageServer, stack: Stack
) -> None:
    js_id, b_id, c_id = await stack.new_users(3, prefix="kp")
    b, c = await stack.login(b_id), await stack.login(c_id)
    sb = await b.stream()
    js = await JsClient.start(browser, name=js_id, page_server=page_server)

    async def js_says(gid: str, text: str) -> None:
        msg = await js.call("createTextMessage", text)
        await js.call("sendMessage", {"recvID": "", "groupID": gid, "message": msg})

    try:
        await js.login(js_id, await stack.token(js_id), PLATFORM_WEB, stack.api_url, stack.ws_url)
        group = await js.call(
            "createGroup", {"memberUserIDs": [b_id, c_id], "groupInfo": {"groupName": "kp", "groupType": 2}}
        )
        gid = group["groupID"]
        conv = f"sg_{gid}"
        await sb.wait_for("OnJoinedGroupAdded", lambda e: e["data"]["groupID"] == gid)
        await js_says(gid, "before")
        await sb.wait_for("OnRecvNewMessage", lambda e: _text(e) == "before")

        await js.call("kickGroupMember", {"groupID": gid, "reason": "", "userIDList": [b_id]})
        await sb.wait_for("OnJoinedGroupDeleted", lambda e: e["data"]["groupID"] == gid)
        core = stack.bridge.core(b.session_id)
        pulls = core.message.range_pulls
        before = pulls[conv]

        # The group talks on over pushes to the others...
        for i in range(3):
            await js_says(gid, f"after{i}")
        msg = await c.call("/v1/message/create_text_message", {"text": "live"})
        await c.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
        await sb.wait_for("OnRecvNewMessage", lambda e: _text(e) == "live")
        # ...and while B's socket is cut, so its reconnect sync sees the group's max seq grown.
        gw = core.gateway
        assert gw is not None
        syncs = len(sb.named("OnSyncServerFinish"))
        await gw.drop_connection()
        await wait_until(lambda: not gw.connected.is_set(), what="B's socket to drop")
        for i in range(3):
            await js_says(gid, f"cut{i}")
        msg = await c.call("/v1/message/create_text_message", {"text": "while cut"})
        await c.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
        await wait_until(lambda: gw.connected.is_set(), timeout=15, what="B to reconnect")
        await sb.wait_for("OnSyncServerFinish", count=syncs + 1)
        await sb.wait_for("OnRecvNewMessage", lambda e: _text(e) == "while cut")

        assert pulls[conv] == before, f"{pulls[conv] - before} pulls of {conv} after the kick"
        assert not [e for e in sb.named("OnRecvNewMessage") if _text(e.json).startswith(("after", "cut"))]
        assert pulls["si_" + "_".join(sorted((b_id, c_id)))] > 0  # the other chat synced by pull
        await js.assert_no_errors()
    finally:
        await js.close()
        await sb.close()
