"""Behaviour the official SDK core has against a real v3.8 server, over REST + SSE (issue 13)."""

from __future__ import annotations

from typing import Any

from tests.support.stack import BridgeUser, Stack
from tests.support.wait import eventually


async def test_logout_over_the_gateway_names_the_device(stack: Stack) -> None:
    """2003 carries DelUserPushTokenReq{userID, platformID} (open_im_sdk/userRelated.go), so
    the push service drops this device's token; empty data would drop nobody's."""
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id, platform_id=2)
    before = stack.imserver.hub.stats.push_tokens_dropped
    await a.call("/v1/logout")
    assert stack.imserver.hub.stats.push_tokens_dropped == before + 1


async def _send_text(u: BridgeUser, text: str, *, group: str = "", to: str = "") -> dict[str, Any]:
    msg = await u.call("/v1/message/create_text_message", {"text": text})
    sent: dict[str, Any] = await u.call("/v1/message/send_message", {"message": msg, "groupID": group, "recvID": to})
    return sent


async def test_a_group_read_on_another_device_clears_the_unread_count(stack: Stack) -> None:
    """The group read receipt to oneself is online only with seq 0 (as_read.go): core applies it
    as the SDK does (read_drawing.go doUnreadCount) and emits the conversation events."""
    a_id, c_id = await stack.new_users(2, prefix="r")
    c = await stack.login(c_id)
    phone, web = await stack.login(a_id, platform_id=2), await stack.login(a_id, platform_id=5)
    group = await c.call("/v1/group/create_group", {"memberUserIDs": [a_id], "groupInfo": {"groupName": "reads"}})
    gid = group["groupID"]
    conv_id = f"sg_{gid}"
    s = await web.stream()
    try:
        for i in range(3):
            await _send_text(c, f"g{i}", group=gid)
        await s.wait_for("OnRecvNewMessage", lambda e: e["data"].get("textElem", {}).get("content") == "g2")
        unread = await web.call("/v1/conversation/get_total_unread_msg_count")
        assert unread >= 3  # the three, and the group's creation notice (isSendMsg)

        async def phone_has_them() -> bool:
            return bool(await phone.call("/v1/conversation/get_total_unread_msg_count") == unread)

        await eventually(phone_has_them, what="the phone session to have the messages")
        await phone.call("/v1/message/mark_conversation_message_as_read", {"conversationID": conv_id})

        await s.wait_for(
            "OnConversationChanged",
            lambda e: any(x["conversationID"] == conv_id and x["unreadCount"] == 0 for x in e["data"]),
        )
        await s.wait_for("OnTotalUnreadMessageCountChanged", lambda e: e["data"] == 0)
        assert await web.call("/v1/conversation/get_total_unread_msg_count") == 0
    finally:
        await s.close()


async def test_a_single_chat_read_on_another_device_clears_the_unread_count(stack: Stack) -> None:
    """Single chats: the receipt is stored in n_ and also reaches the reader's devices."""
    a_id, c_id = await stack.new_users(2, prefix="r")
    c = await stack.login(c_id)
    phone, web = await stack.login(a_id, platform_id=2), await stack.login(a_id, platform_id=5)
    s = await web.stream()
    try:
        for i in range(2):
            await _send_text(c, f"s{i}", to=a_id)
        await s.wait_for("OnTotalUnreadMessageCountChanged", lambda e: e["data"] == 2)
        conv_id = await phone.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": c_id, "sessionType": 1}
        )

        async def phone_sees_two() -> bool:
            return bool(await phone.call("/v1/conversation/get_total_unread_msg_count") == 2)

        await eventually(phone_sees_two, what="the phone session to have the two messages")
        await phone.call("/v1/message/mark_conversation_message_as_read", {"conversationID": conv_id})
        await s.wait_for("OnTotalUnreadMessageCountChanged", lambda e: e["data"] == 0)
    finally:
        await s.close()
