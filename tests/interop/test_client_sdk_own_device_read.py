"""A read on the user's other device, the official ``@openim/wasm-client-sdk``, clears the
unread count of the same user's bridge session (issue 13).

For a group the server sends that read receipt from the reader to the reader, online
only with seq 0 (open-im-server internal/rpc/msg/as_read.go sendMarkAsReadNotification;
pkg/notification/msg.go): never stored, so the bridge's core only learns of it from
the push (core/modules/message.py on_own_read_receipt).
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.interop.jsclient import PLATFORM_WEB, JsClient, PageServer
from tests.support.stack import Stack

pytestmark = pytest.mark.interop

_IOS = 1  # the bridge session's platform: another device than the web client's


async def test_read_on_the_official_client_clears_unread_on_the_bridge(
    browser: Browser, page_server: PageServer, stack: Stack
) -> None:
    me_id, peer_id = await stack.new_users(2, prefix="rd")
    me, peer = await stack.login(me_id, platform_id=_IOS), await stack.login(peer_id)
    stream = await me.stream()
    js = await JsClient.start(browser, name=me_id, page_server=page_server)
    try:
        await js.login(me_id, await stack.token(me_id, PLATFORM_WEB), PLATFORM_WEB, stack.api_url, stack.ws_url)
        gid = (await peer.call("/v1/group/create_group", {"memberUserIDs": [me_id], "groupInfo": {"groupName": "rd"}}))[
            "groupID"
        ]
        conv_id = f"sg_{gid}"
        await stream.wait_for("OnJoinedGroupAdded", lambda e: e["data"]["groupID"] == gid)
        for i in range(2):
            msg = await peer.call("/v1/message/create_text_message", {"text": f"unread {i}"})
            await peer.call("/v1/message/send_message", {"message": msg, "groupID": gid})
        await stream.wait_for(
            "OnConversationChanged",
            lambda e: any(c["conversationID"] == conv_id and c["unreadCount"] == 2 for c in e["data"]),
        )
        await js.wait_event(
            ["OnRecvNewMessages", "OnRecvNewMessage"], "e => JSON.stringify(e.data).includes('unread 1')"
        )

        await js.call("markConversationMessageAsRead", conv_id)
        await stream.wait_for(
            "OnConversationChanged",
            lambda e: any(c["conversationID"] == conv_id and c["unreadCount"] == 0 for c in e["data"]),
        )
        (conv,) = await me.call("/v1/conversation/get_multiple_conversation", {"conversationIDList": [conv_id]})
        assert conv["unreadCount"] == 0
        assert await me.call("/v1/conversation/get_total_unread_msg_count") == 0
        await js.assert_no_errors()
    finally:
        await js.close()
        await stream.close()
