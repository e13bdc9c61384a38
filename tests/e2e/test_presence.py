"""Online status, background state and reconnects over REST + SSE against imserver (issue 15)."""

from __future__ import annotations

from tests.support.stack import Stack


async def test_subscribed_status_changes_fire_on_user_status_changed(stack: Stack) -> None:
    a_id, b_id, c_id = await stack.new_users(3)
    a = await stack.login(a_id)
    sa = await a.stream()
    try:
        (st,) = await a.call("/v1/user/subscribe_users_status", {"userIDs": [b_id]})
        assert st == {"userID": b_id, "status": 0, "platformIDs": []}
        b = await stack.login(b_id, platform_id=5)
        (ev,) = await sa.wait_for("OnUserStatusChanged", lambda e: e["data"]["userID"] == b_id)
        assert ev.json["listener"] == "OnUserListener" and ev.json["data"] == {
            "userID": b_id,
            "status": 1,
            "platformIDs": [5],
        }
        assert await a.call("/v1/user/get_subscribe_users_status") == [ev.json["data"]]
        (c_status,) = await a.call("/v1/user/get_user_status", {"userIDs": [c_id]})
        assert c_status["status"] == 0
        assert {s["userID"] for s in await a.call("/v1/user/get_subscribe_users_status")} == {b_id, c_id}

        await a.call("/v1/user/unsubscribe_users_status", {"userIDs": [b_id]})
        assert [s["userID"] for s in await a.call("/v1/user/get_subscribe_users_status")] == [c_id]
        assert (await b.post("/v1/logout")).status_code == 200
        await stack.login(c_id)
        await sa.wait_for("OnUserStatusChanged", lambda e: e["data"]["userID"] == c_id)
        assert len(sa.named("OnUserStatusChanged")) == 2, "no callback for an unsubscribed user"
    finally:
        await sa.close()


async def test_background_reports_offline_messages_and_reconnect_resubscribes(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sa = await a.stream()
    try:
        assert await a.call("/v1/auth/get_sdk_version") == "v3.8.3-patch.14"
        await a.call("/v1/user/subscribe_users_status", {"userIDs": [b_id]})
        await a.call("/v1/auth/set_app_background_status", {"isBackground": True})
        msg = await b.call("/v1/message/create_text_message", {"text": "while away"})
        await b.call("/v1/message/send_message", {"message": msg, "recvID": a_id})
        (off,) = await sa.wait_for("OnRecvOfflineNewMessage")
        assert off.json["data"]["textElem"]["content"] == "while away"
        assert sa.named("OnRecvNewMessage"), "the message is delivered as new too (conversation_msg.go)"

        await a.call("/v1/auth/set_app_background_status", {"isBackground": False})
        msg = await b.call("/v1/message/create_text_message", {"text": "back"})
        await b.call("/v1/message/send_message", {"message": msg, "recvID": a_id})
        await sa.wait_for("OnRecvNewMessage", count=2)
        assert len(sa.named("OnRecvOfflineNewMessage")) == 1, "in the foreground: no offline callback"

        before = len(sa.named("OnConnectSuccess"))
        await a.call("/v1/auth/network_status_changed")
        await sa.wait_for("OnConnectSuccess", count=before + 1)
        b2 = await stack.login(b_id, platform_id=2)  # subscription survived the reconnect
        await sa.wait_for("OnUserStatusChanged", lambda e: e["data"]["platformIDs"] == [2, 5])
        assert b2.user_id == b_id
    finally:
        await sa.close()


async def test_input_states_reach_the_peer_and_clear(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sb = await b.stream()
    try:
        conv = await a.call("/v1/conversation/get_one_conversation", {"sessionType": 1, "sourceID": b_id})
        cid = conv["conversationID"]
        await a.call("/v1/conversation/change_input_states", {"conversationID": cid, "focus": True})
        (on,) = await sb.wait_for("OnConversationUserInputStatusChanged")
        assert on.json["data"] == {"conversationID": cid, "userID": a_id, "platformIDs": [5]}
        assert on.json["listener"] == "OnConversationListener"
        assert await b.call("/v1/conversation/get_input_states", {"conversationID": cid, "userID": a_id}) == [5]
        await a.call("/v1/conversation/change_input_states", {"conversationID": cid, "focus": True})  # within 10 s
        await a.call("/v1/conversation/change_input_states", {"conversationID": cid, "focus": False})
        off = await sb.wait_for("OnConversationUserInputStatusChanged", count=2)
        assert off[-1].json["data"]["platformIDs"] == [] and len(off) == 2
        assert await b.call("/v1/conversation/get_input_states", {"conversationID": cid, "userID": a_id}) == []
        r = await a.post("/v1/conversation/change_input_states", {"conversationID": "si_x_y", "focus": True})
        assert r.status_code == 404 and "si_x_y" in r.json()["detail"], r.text
    finally:
        await sb.close()
