"""Local-only messages and localEx over REST + SSE, kept across a new core (issue 15)."""

from __future__ import annotations

from tests.support.stack import Stack


async def test_inserted_messages_and_local_ex_are_durable_and_in_history(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sa = await a.stream()
    try:
        msg = await b.call("/v1/message/create_text_message", {"text": "from the server"})
        sent = await b.call("/v1/message/send_message", {"message": msg, "recvID": a_id})
        await sa.wait_for("OnRecvNewMessage")
        conv = await a.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": b_id, "sessionType": 1}
        )

        note = await a.call("/v1/message/create_text_message", {"text": "a note only I keep"})
        local = await a.call(
            "/v1/message/insert_single_message_to_local_storage", {"message": note, "recvID": b_id, "sendID": a_id}
        )
        assert local["status"] == 2 and local["seq"] == 0 and local["clientMsgID"] != note["clientMsgID"]
        (changed,) = await sa.wait_for(
            "OnConversationChanged", lambda e: '"a note only I keep"' in e["data"][0]["latestMsg"]
        )
        assert changed.json["data"][0]["conversationID"] == conv

        await a.call(
            "/v1/message/set_message_local_ex",
            {"conversationID": conv, "clientMsgID": sent["clientMsgID"], "localEx": "starred"},
        )
        page = await a.call("/v1/message/get_advanced_history_message_list", {"conversationID": conv, "count": 20})
        by_id = {m["clientMsgID"]: m for m in page["messageList"]}
        assert by_id[sent["clientMsgID"]]["localEx"] == "starred"
        assert page["messageList"][-1]["clientMsgID"] == local["clientMsgID"], "ordered by sendTime"

        assert (await a.post("/v1/logout")).status_code == 200
        again = await stack.login(a_id)  # a new core: only the database remembers
        page = await again.call("/v1/message/get_advanced_history_message_list", {"conversationID": conv})
        by_id = {m["clientMsgID"]: m for m in page["messageList"]}
        assert by_id[local["clientMsgID"]]["textElem"]["content"] == "a note only I keep"
        assert by_id[sent["clientMsgID"]]["localEx"] == "starred"

        r = await again.post(
            "/v1/message/set_message_local_ex", {"conversationID": conv, "clientMsgID": "nope", "localEx": "x"}
        )
        assert r.status_code == 404
    finally:
        await sa.close()
