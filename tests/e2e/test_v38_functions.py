"""v3.8 setters and read functions over REST, with the callbacks they cause over SSE (issue 15)."""

from __future__ import annotations

from typing import Any

from tests.support.stack import BridgeUser, Stack


async def _send(u: BridgeUser, to: str, text: str) -> dict[str, Any]:
    msg = await u.call("/v1/message/create_text_message", {"text": text})
    sent: dict[str, Any] = await u.call("/v1/message/send_message", {"message": msg, "recvID": to})
    return sent


async def _friends(a: BridgeUser, b: BridgeUser) -> None:
    await b.call("/v1/friend/add_friend", {"toUserID": a.user_id, "reqMsg": "hi"})
    await a.call("/v1/friend/accept_friend_application", {"toUserID": b.user_id})


async def test_set_conversation_update_friends_and_read_everything(stack: Stack) -> None:
    a_id, b_id, c_id = await stack.new_users(3)
    a, b, c = await stack.login(a_id), await stack.login(b_id), await stack.login(c_id)
    sa, sb, sc = await a.stream(), await b.stream(), await c.stream()
    try:
        await _friends(a, b)
        assert await a.call("/v1/friend/get_friend_application_unhandled_count", {"time": 0}) == 0
        await c.call("/v1/friend/add_friend", {"toUserID": a_id})
        assert await a.call("/v1/friend/get_friend_application_unhandled_count", {}) == 1

        await a.call("/v1/friend/update_friends", {"friendUserIDs": [b_id], "remark": "bee", "isPinned": True})
        (changed,) = await sa.wait_for("OnFriendInfoChanged", lambda e: e["data"]["remark"] == "bee")
        assert changed.json["data"]["isPinned"] is True
        r = await a.post("/v1/friend/update_friends", {"friendUserIDs": [b_id]})
        assert r.status_code == 400 and "isPinned" in r.json()["detail"]

        first = await _send(b, a_id, "one")
        await _send(b, a_id, "two")
        await _send(c, a_id, "from c")
        # Texts only: accepting the friend request also lands as a message (1201; isSendMsg in
        # OpenIM's notification.yml), which must not stand in for one of the three.
        await sa.wait_for("OnRecvNewMessage", lambda e: e["data"]["contentType"] == 101, count=3)
        conv_b = await a.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": b_id, "sessionType": 1}
        )

        await a.call(
            "/v1/conversation/set_conversation", {"conversationID": conv_b, "req": {"ex": "e1", "attachedInfo": "i"}}
        )
        (conv_ev,) = await sa.wait_for("OnConversationChanged", lambda e: e["data"][0].get("ex") == "e1")
        assert conv_ev.json["data"][0]["attachedInfo"] == "i"
        assert [
            c["conversationID"] for c in await a.call("/v1/conversation/search_conversation", {"searchParam": b_id})
        ] == [conv_b]

        await a.call(
            "/v1/conversation/mark_messages_as_read_by_msg_id",
            {"conversationID": conv_b, "clientMsgIDs": [first["clientMsgID"]]},
        )
        (receipt,) = await sb.wait_for("OnRecvC2CReadReceipt")
        assert receipt.json["data"][0]["msgIDList"] == [first["clientMsgID"]]
        assert await a.call("/v1/conversation/get_total_unread_msg_count") == 2

        await a.call("/v1/conversation/mark_all_conversation_message_as_read")
        assert await a.call("/v1/conversation/get_total_unread_msg_count") == 0
        await sa.wait_for("OnTotalUnreadMessageCountChanged", lambda e: e["data"] == 0)
        await sc.wait_for("OnRecvC2CReadReceipt")
    finally:
        for s in (sa, sb, sc):
            await s.close()


async def test_first_sync_reports_progress_and_deleting_reports_the_message(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    sa = await a.stream(last_event_id=0)  # from the first event of the session: the login's sync
    try:
        await sa.wait_for("OnSyncServerProgress", lambda e: e["data"] == 100)
        progress = [e.json["data"] for e in sa.named("OnSyncServerProgress")]
        assert progress[0] == 1 and progress == sorted(progress) and progress[-1] == 100
        names = [e.event for e in sa.events]
        assert (
            names.index("OnSyncServerStart") < names.index("OnSyncServerProgress") < names.index("OnSyncServerFinish")
        )

        b = await stack.login(b_id)
        sent = await _send(b, a_id, "delete me")
        await sa.wait_for("OnRecvNewMessage")
        conv = await a.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": b_id, "sessionType": 1}
        )
        await a.call(
            "/v1/message/delete_message_from_local_storage",
            {"conversationID": conv, "clientMsgID": sent["clientMsgID"]},
        )
        (deleted,) = await sa.wait_for("OnMsgDeleted")
        assert deleted.json["listener"] == "OnAdvancedMsgListener"
        assert deleted.json["data"]["clientMsgID"] == sent["clientMsgID"]
        assert deleted.json["data"]["textElem"]["content"] == "delete me"
    finally:
        await sa.close()
