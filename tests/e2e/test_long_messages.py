"""Long texts over REST + SSE: a 9,000-character CJK text (the documented limit is 10,000)
goes through OpenIM's 51,200-byte frame limit; one that cannot fit answers 413 naming
the limit and the session goes on (issue 10, "Frames that fit OpenIM's limits")."""

from __future__ import annotations

import random

from core.core import Core
from core.protocol.errcodes import ErrCode
from tests.support.stack import Stack


def cjk(n: int, seed: int) -> str:
    """n random CJK ideographs: about the worst case for gzip among real texts."""
    rnd = random.Random(seed)
    return "".join(chr(rnd.randint(0x4E00, 0x9FA5)) for _ in range(n))


async def test_a_9000_character_cjk_text_is_sent_and_received_both_ways(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2, prefix="long")
    a, b = await stack.login(a_id), await stack.login(b_id)
    sa, sb = await a.stream(), await b.stream()
    try:
        there, back = cjk(9000, seed=10), cjk(9000, seed=11)
        msg = await a.call("/v1/message/create_text_message", {"text": there})
        sent = await a.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
        assert sent["status"] == 2 and sent["serverMsgID"]
        (got,) = await sb.wait_for("OnRecvNewMessage")
        assert got.json["data"]["textElem"]["content"] == there
        assert got.json["data"]["clientMsgID"] == sent["clientMsgID"]

        reply = await b.call("/v1/message/create_text_message", {"text": back})
        await b.call("/v1/message/send_message", {"message": reply, "recvID": a_id})
        (echo,) = await sa.wait_for("OnRecvNewMessage")
        assert echo.json["data"]["textElem"]["content"] == back

        conv_id = await b.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": a_id, "sessionType": 1}
        )
        page = await b.call("/v1/message/get_advanced_history_message_list", {"conversationID": conv_id, "count": 10})
        assert [m["textElem"]["content"] for m in page["messageList"]] == [there, back]
    finally:
        await sa.close()
        await sb.close()


async def test_a_message_that_cannot_fit_the_frame_limit_answers_413_and_the_session_goes_on(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2, prefix="long")
    a, b = await stack.login(a_id), await stack.login(b_id)
    sb = await b.stream()
    try:
        msg = await a.call("/v1/message/create_text_message", {"text": "x"})
        msg["textElem"] = {"content": cjk(40_000, seed=12)}  # ~100 KB even gzipped
        r = await a.post("/v1/message/send_message", {"message": msg, "recvID": b_id})
        assert r.status_code == 413, r.text
        problem = r.json()
        assert problem["errCode"] == ErrCode.MsgTooLargeError and problem["errMsg"] == "MsgTooLargeError"
        assert "51200 bytes" in problem["detail"], problem["detail"]

        assert (await a.session())["state"] == "live"
        after = await a.call("/v1/message/create_text_message", {"text": "after"})
        await a.call("/v1/message/send_message", {"message": after, "recvID": b_id})
        (got,) = await sb.wait_for("OnRecvNewMessage")
        assert got.json["data"]["textElem"]["content"] == "after"
        handle = stack.bridge.pool.handle(a.session_id)
        assert handle is not None and isinstance(handle.core, Core) and handle.core.gateway is not None
        assert handle.core.gateway.connected.is_set()
    finally:
        await sb.close()
