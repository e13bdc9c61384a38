"""A bridge user (REST + SSE) and an official ``@openim/client-sdk`` user chat both ways,
and see each other's read receipts and revokes."""

from __future__ import annotations

import random
from typing import Any

import pytest
from playwright.async_api import Browser

from tests.interop.jsclient import PLATFORM_WEB, JsClient, PageServer
from tests.support.stack import Stack

pytestmark = pytest.mark.interop


async def test_messages_receipts_and_revokes_between_official_client_and_bridge(
    browser: Browser, page_server: PageServer, stack: Stack
) -> None:
    js_id, br_id = await stack.new_users(2, prefix="m")
    br = await stack.login(br_id)
    stream = await br.stream()
    js = await JsClient.start(browser, name=js_id, page_server=page_server)
    try:
        await js.login(js_id, await stack.token(js_id), PLATFORM_WEB, stack.api_url, stack.ws_url)
        conv_id = await br.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": js_id, "sessionType": 1}
        )

        # official client -> bridge
        mark = await js.mark()
        msg = await js.call("createTextMessage", "hello from js")
        sent = await js.call("sendMessage", {"recvID": br_id, "groupID": "", "message": msg})
        (got,) = await stream.wait_for("OnRecvNewMessage")
        assert got.json["data"]["textElem"]["content"] == "hello from js"
        assert got.json["data"]["clientMsgID"] == sent["clientMsgID"] and got.json["data"]["sendID"] == js_id

        # the bridge user reads (before replying: a reply itself moves the read cursor);
        # the official client gets the receipt for its message
        await br.call("/v1/message/mark_conversation_message_as_read", {"conversationID": conv_id})
        receipt = await js.wait_event("OnRecvC2CReadReceipt", since=mark)
        assert sent["clientMsgID"] in str(receipt["data"])

        # bridge -> official client
        bmsg = await br.call("/v1/message/create_text_message", {"text": "hello from bridge"})
        bsent = await br.call("/v1/message/send_message", {"message": bmsg, "recvID": js_id})
        ev = await js.wait_event(
            ["OnRecvNewMessages", "OnRecvNewMessage"],
            "e => JSON.stringify(e.data).includes('hello from bridge')",
            since=mark,
        )
        assert bsent["clientMsgID"] in str(ev["data"])

        # the official client reads; the bridge user gets the receipt for its message
        await js.call("markConversationMessageAsRead", conv_id)
        (rr,) = await stream.wait_for("OnRecvC2CReadReceipt")
        assert rr.json["data"][0]["userID"] == js_id and bsent["clientMsgID"] in rr.json["data"][0]["msgIDList"]

        # revokes both ways
        await br.call("/v1/message/revoke_message", {"conversationID": conv_id, "clientMsgID": bsent["clientMsgID"]})
        await js.wait_event(
            "OnNewRecvMessageRevoked", f"e => JSON.stringify(e.data).includes('{bsent['clientMsgID']}')", since=mark
        )
        await js.call("revokeMessage", {"conversationID": conv_id, "clientMsgID": sent["clientMsgID"]})
        revs = await stream.wait_for("OnNewRecvMessageRevoked", lambda d: d["data"]["revokerID"] == js_id)
        assert revs[0].json["data"]["clientMsgID"] == sent["clientMsgID"]
        await js.assert_no_errors()
    finally:
        await js.close()
        await stream.close()


def _cjk(n: int, seed: int) -> str:
    """n random CJK ideographs: about the worst case for gzip among real texts."""
    rnd = random.Random(seed)
    return "".join(chr(rnd.randint(0x4E00, 0x9FA5)) for _ in range(n))


def _messages(data: Any) -> list[dict[str, Any]]:
    """OnRecvNewMessage carries one message, OnRecvNewMessages a list."""
    return data if isinstance(data, list) else [data]


async def test_9000_character_cjk_texts_between_official_client_and_bridge(
    browser: Browser, page_server: PageServer, stack: Stack
) -> None:
    """The documented text limit is 10,000 characters; 9,000 CJK ones fit OpenIM's
    51,200-byte frames both from the official client (plain JSON) and from the bridge."""
    js_id, br_id = await stack.new_users(2, prefix="l")
    br = await stack.login(br_id)
    stream = await br.stream()
    js = await JsClient.start(browser, name=js_id, page_server=page_server)
    try:
        await js.login(js_id, await stack.token(js_id), PLATFORM_WEB, stack.api_url, stack.ws_url)
        from_js, from_bridge = _cjk(9000, seed=20), _cjk(9000, seed=21)

        mark = await js.mark()
        msg = await js.call("createTextMessage", from_js)
        sent = await js.call("sendMessage", {"recvID": br_id, "groupID": "", "message": msg})
        (got,) = await stream.wait_for("OnRecvNewMessage")
        assert got.json["data"]["textElem"]["content"] == from_js
        assert got.json["data"]["clientMsgID"] == sent["clientMsgID"]

        bmsg = await br.call("/v1/message/create_text_message", {"text": from_bridge})
        bsent = await br.call("/v1/message/send_message", {"message": bmsg, "recvID": js_id})
        ev = await js.wait_event(
            ["OnRecvNewMessages", "OnRecvNewMessage"],
            f"e => JSON.stringify(e.data).includes('{bsent['clientMsgID']}')",
            since=mark,
        )
        (recv,) = [m for m in _messages(ev["data"]) if m["clientMsgID"] == bsent["clientMsgID"]]
        assert recv["textElem"]["content"] == from_bridge
        await js.assert_no_errors()
    finally:
        await js.close()
        await stream.close()
