"""One-to-one messaging over REST + SSE: order, exactly-once, unread, receipts, revoke, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.clock import wait_until
from tests.support.imadmin import admin_token, call
from tests.support.sseclient import SseEvent
from tests.support.stack import BridgeUser, Stack, run_stack


async def _send_text(u: BridgeUser, to: str, text: str, op: str | None = None) -> dict[str, Any]:
    msg = await u.call("/v1/message/create_text_message", {"text": text})
    sent: dict[str, Any] = await u.call("/v1/message/send_message", {"message": msg, "recvID": to}, op=op)
    return sent


def _texts(events: list[Any]) -> list[str]:
    return [e.json["data"]["textElem"]["content"] for e in events]


async def test_thousand_messages_in_order_once_with_unread_receipts_revoke_history(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sa, sb = await a.stream(), await b.stream()
    n = 1000
    try:
        sent = [await _send_text(a, b_id, f"m{i}") for i in range(n)]
        assert all(s["status"] == 2 and s["serverMsgID"] for s in sent)
        got = await sb.wait_for("OnRecvNewMessage", count=n, timeout=120)
        assert len(got) == n, "no message twice"
        assert _texts(got) == [f"m{i}" for i in range(n)]
        seqs = [e.json["data"]["seq"] for e in got]
        assert seqs == list(range(1, n + 1))
        assert not sa.named("OnRecvNewMessage"), "the sender does not receive its own messages as new"

        conv_id = await b.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": a_id, "sessionType": 1}
        )
        await wait_until(
            lambda: (
                bool(sb.named("OnTotalUnreadMessageCountChanged"))
                and sb.named("OnTotalUnreadMessageCountChanged")[-1].json["data"] == n
            ),
            what="unread event",
        )
        assert await b.call("/v1/conversation/get_total_unread_msg_count") == n
        (conv,) = await b.call("/v1/conversation/get_multiple_conversation", {"conversationIDList": [conv_id]})
        assert conv["unreadCount"] == n and conv["userID"] == a_id and conv["maxSeq"] == n
        assert '"m999"' in conv["latestMsg"]
        assert sb.named("OnNewConversation")

        await b.call("/v1/message/mark_conversation_message_as_read", {"conversationID": conv_id})
        (receipt,) = await sa.wait_for("OnRecvC2CReadReceipt", timeout=30)
        (r0,) = receipt.json["data"]
        assert r0["userID"] == b_id and len(r0["msgIDList"]) == n
        assert set(r0["msgIDList"]) == {s["clientMsgID"] for s in sent}
        assert await b.call("/v1/conversation/get_total_unread_msg_count") == 0
        await sb.wait_for("OnTotalUnreadMessageCountChanged", lambda d: d["data"] == 0)

        victim = sent[500]
        await a.call("/v1/message/revoke_message", {"conversationID": conv_id, "clientMsgID": victim["clientMsgID"]})
        (rev,) = await sb.wait_for("OnNewRecvMessageRevoked")
        assert rev.json["data"]["clientMsgID"] == victim["clientMsgID"] and rev.json["data"]["revokerID"] == a_id
        assert rev.json["data"]["seq"] == 501

        # History pages back through all 1,000, newest page first, each page oldest first.
        seen: list[dict[str, Any]] = []
        start = ""
        while True:
            page = await b.call(
                "/v1/message/get_advanced_history_message_list",
                {"conversationID": conv_id, "startClientMsgID": start, "count": 100},
            )
            seen = page["messageList"] + seen
            if page["isEnd"] or not page["messageList"]:
                break
            start = page["messageList"][0]["clientMsgID"]
        assert [m["seq"] for m in seen] == list(range(1, n + 1))
        assert seen[500]["contentType"] == 2101, "the revoked message shows as revoked"
        assert seen[0]["textElem"]["content"] == "m0"
    finally:
        await sa.close()
        await sb.close()


async def test_retry_with_same_client_msg_id_is_one_message(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sb = await b.stream()
    try:
        msg = await a.call("/v1/message/create_text_message", {"text": "once"})
        first = await a.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
        again = await a.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
        assert first["serverMsgID"] == again["serverMsgID"]
        await _send_text(a, b_id, "after")
        got = await sb.wait_for("OnRecvNewMessage", count=2)
        assert _texts(got) == ["once", "after"]
    finally:
        await sb.close()


async def test_offline_parked_and_cut_socket_delivery(tmp_path: Path) -> None:
    async with run_stack(tmp_path, idle_park_seconds=60.0, sweep_interval=3600.0) as st:
        a_id, b_id = await st.new_users(2)
        a, b = await st.login(a_id), await st.login(b_id)
        expected: list[str] = []

        async def burst(tag: str, k: int) -> None:
            for i in range(k):
                await _send_text(a, b_id, f"{tag}{i}")
                expected.append(f"{tag}{i}")

        s1 = await b.stream()
        await burst("live", 3)
        await s1.wait_for("OnRecvNewMessage", count=3)
        last = s1.events[-1].id
        await s1.close()

        # 1. while B's stream is closed (core still live)
        await burst("closed", 5)
        # 2. while B's upstream WebSocket is cut
        handle = st.bridge.pool.handle(b.session_id)
        assert handle is not None
        gw = st.bridge.core(b.session_id).gateway
        assert gw is not None
        await gw.drop_connection()
        await wait_until(lambda: not gw.connected.is_set(), what="B's socket to drop")
        await burst("cut", 5)
        await wait_until(lambda: gw.connected.is_set(), timeout=15, what="B to reconnect")
        # 3. while B is parked
        await wait_until(lambda: handle.streams == 0, what="server to see the stream closed")
        st.bridge_clock.advance(61)
        await a.call("/v1/auth/get_login_status")
        assert await st.bridge.pool.sweep() == 1
        await burst("parked", 5)

        s2 = await b.stream(last_event_id=last)  # revives B and replays what it missed
        try:
            got = await s2.wait_for("OnRecvNewMessage", count=len(expected) - 3, timeout=30)
            assert _texts(got) == expected[3:]
            seqs = [e.json["data"]["seq"] for e in got]
            assert seqs == sorted(set(seqs))
        finally:
            await s2.close()


async def test_every_message_type_round_trips(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sb = await b.stream()
    pic = {"uuid": "u1", "type": "png", "size": 10, "width": 2, "height": 3, "url": "https://x/p.png"}
    quoted = await a.call("/v1/message/create_text_message", {"text": "quoted"})
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("create_text_message", {"text": "hello"}, "textElem"),
        ("create_text_at_message", {"text": "@b hi", "atUserIDList": [b_id]}, "atTextElem"),
        (
            "create_image_message_by_url",
            {"sourcePath": "", "sourcePicture": pic, "bigPicture": pic, "snapshotPicture": pic},
            "pictureElem",
        ),
        (
            "create_sound_message_by_url",
            {"uuid": "s", "sourceUrl": "https://x/s.mp3", "dataSize": 9, "duration": 3},
            "soundElem",
        ),
        (
            "create_video_message_by_url",
            {"videoUrl": "https://x/v.mp4", "duration": 5, "videoType": "mp4", "snapshotUrl": "https://x/v.png"},
            "videoElem",
        ),
        (
            "create_file_message_by_url",
            {"fileName": "a.pdf", "sourceUrl": "https://x/a.pdf", "fileSize": 7},
            "fileElem",
        ),
        ("create_location_message", {"description": "here", "longitude": 120.5, "latitude": 30.25}, "locationElem"),
        ("create_quote_message", {"text": "reply", "message": quoted}, "quoteElem"),
        ("create_card_message", {"cardInfo": {"userID": a_id, "nickname": "A"}}, "cardElem"),
        ("create_custom_message", {"data": '{"k":1}', "extension": "e", "description": "d"}, "customElem"),
        ("create_face_message", {"index": 3, "data": "smile"}, "faceElem"),
        ("create_merger_message", {"messageList": [quoted], "title": "t", "summaryList": ["s"]}, "mergeElem"),
        ("create_forward_message", {"message": quoted}, "textElem"),
    ]
    try:
        made = []
        for fn, body, elem in cases:
            msg = await a.call(f"/v1/message/{fn}", body)
            assert msg[elem], fn
            await a.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
            made.append((elem, msg[elem]))
        got = await sb.wait_for("OnRecvNewMessage", count=len(cases))
        for (elem, content), ev in zip(made, got, strict=True):
            assert ev.json["data"][elem] == content, elem
    finally:
        await sb.close()


async def test_bad_message_input_is_4xx(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    msg = await a.call("/v1/message/create_text_message", {"text": "x"})
    cases = [
        ("/v1/message/send_message", {"message": msg}, "recvID"),
        ("/v1/message/send_message", {"message": msg, "recvID": b_id, "groupID": "g"}, "recvID"),
        ("/v1/message/send_message", {"message": {**msg, "contentType": 999}, "recvID": b_id}, "contentType"),
        ("/v1/message/send_message", {"message": {**msg, "textElem": None}, "recvID": b_id}, "textElem"),
        ("/v1/message/create_text_message", {"text": "x" * 10_001}, "text"),
        ("/v1/message/create_text_message", {"text": ""}, "text"),
        ("/v1/message/create_location_message", {"longitude": 500, "latitude": 0}, "longitude"),
        ("/v1/message/revoke_message", {"conversationID": "si_x_y", "clientMsgID": "nope"}, "nope"),
        ("/v1/message/get_advanced_history_message_list", {"conversationID": "si_none", "count": 10}, "si_none"),
    ]
    for path, body, mention in cases:
        r = await a.post(path, body)
        assert 400 <= r.status_code < 500, (path, body, r.text)
        assert mention in r.json()["detail"], (path, r.json())


async def test_typing_is_online_only(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sb = await b.stream()
    try:
        await a.call("/v1/message/typing_status_update", {"recvID": b_id, "msgTip": "yes"})
        (ev,) = await sb.wait_for("OnRecvOnlineOnlyMessage")
        assert ev.json["data"]["typingElem"] == {"msgTips": "yes"} and ev.json["data"]["seq"] == 0
        assert await b.call("/v1/conversation/get_all_conversation_list") == []
    finally:
        await sb.close()


async def test_conversation_settings_and_other_device(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    await _send_text(a, b_id, "hi")
    a_web = await stack.login(a_id, platform_id=3)  # A's second device
    s_web, s_a = await a_web.stream(), await a.stream()
    conv_id = await a.call("/v1/conversation/get_conversation_id_by_session_type", {"sourceID": b_id, "sessionType": 1})
    try:
        await a.call("/v1/conversation/pin_conversation", {"conversationID": conv_id, "isPinned": True})
        (conv,) = await a.call("/v1/conversation/get_multiple_conversation", {"conversationIDList": [conv_id]})
        assert conv["isPinned"] is True
        await s_web.wait_for("OnConversationChanged", lambda d: any(c["isPinned"] for c in d["data"]))
        await a.call("/v1/conversation/set_conversation_draft", {"conversationID": conv_id, "draftText": "dr"})
        listed = await a.call("/v1/conversation/get_all_conversation_list")
        assert [c["conversationID"] for c in listed] == [conv_id] and listed[0]["draftText"] == "dr"
        await a.call("/v1/conversation/hide_conversation", {"conversationID": conv_id})
        assert await a.call("/v1/conversation/get_all_conversation_list") == []
        await _send_text(b, a_id, "back")
        await s_a.wait_for("OnRecvNewMessage")
        await s_a.wait_for("OnConversationChanged", lambda d: '"back"' in d["data"][0]["latestMsg"])
        listed = await a.call("/v1/conversation/get_all_conversation_list")
        assert [c["conversationID"] for c in listed] == [conv_id], "a new message brings a hidden conversation back"
    finally:
        await s_web.close()
        await s_a.close()


async def test_batch_mode_sync_callbacks_and_business_notification(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    r = await stack.http.post(
        f"{stack.bridge.url}/v1/login",
        json={"userID": b_id, "token": await stack.token(b_id), "platformID": 5, "batchMessages": True},
    )
    data = r.json()["data"]
    b = BridgeUser(stack, b_id, data["sessionToken"], data["sessionID"])
    sb = await b.stream(last_event_id=0)
    try:
        (start,) = await sb.wait_for("OnSyncServerStart")
        assert start.json["data"] is True, "first login of this device: reinstalled"
        await sb.wait_for("OnSyncServerFinish")
        for i in range(3):
            await _send_text(a, b_id, f"b{i}")
        batches: list[SseEvent] = []
        while sum(len(e.json["data"]) for e in batches) < 3:
            batches = await sb.wait_for("OnRecvNewMessages", count=len(batches) + 1)
        texts = [m["textElem"]["content"] for e in batches for m in e.json["data"]]
        assert texts == ["b0", "b1", "b2"]
        assert not sb.named("OnRecvNewMessage")

        admin = await admin_token(stack.http, stack.api_url)
        body = {"key": "order", "data": '{"id":7}', "sendUserID": a_id, "recvUserID": b_id}
        await call(stack.http, stack.api_url, "/msg/send_business_notification", body, admin)
        (biz,) = await sb.wait_for("OnRecvCustomBusinessMessage")
        assert biz.json["listener"] == "OnCustomBusinessListener"
        assert json.loads(biz.json["data"]) == {"key": "order", "data": '{"id":7}'}
    finally:
        await sb.close()


async def test_revoke_right_after_send(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sb = await b.stream()
    try:
        for i in range(5):
            sent = await _send_text(a, b_id, f"oops{i}")
            conv = f"si_{min(a_id, b_id)}_{max(a_id, b_id)}"
            await a.call("/v1/message/revoke_message", {"conversationID": conv, "clientMsgID": sent["clientMsgID"]})
        revs = await sb.wait_for("OnNewRecvMessageRevoked", count=5)
        assert [e.json["data"]["seq"] for e in revs] == [1, 2, 3, 4, 5]
    finally:
        await sb.close()


async def test_a_sent_message_changes_the_senders_conversation_once(stack: Stack) -> None:
    # Its echo comes back before the send learns its seq; the send alone updates the
    # conversation (as the SDK's SendMessage does on success): one event per message.
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sa, sb = await a.stream(), await b.stream()
    try:
        for i in range(3):
            await _send_text(a, b_id, f"once {i}")
        await sb.wait_for("OnRecvNewMessage", count=3)
        await _send_text(b, a_id, "after")  # its event follows whatever the sends left on A's stream
        (after,) = await sa.wait_for("OnRecvNewMessage")
        assert after.id is not None
        names = ("OnNewConversation", "OnConversationChanged")
        convs = [e for e in sa.events if e.event in names and e.id is not None and e.id < after.id]
        assert [e.event for e in convs] == ["OnNewConversation", "OnConversationChanged", "OnConversationChanged"]
        latest = [json.loads(e.json["data"][0]["latestMsg"])["textElem"]["content"] for e in convs]
        assert latest == ["once 0", "once 1", "once 2"]
        assert convs[-1].json["data"][0]["unreadCount"] == 0
        assert json.loads(convs[-1].json["data"][0]["latestMsg"])["seq"] == 3
    finally:
        await sa.close()
        await sb.close()
