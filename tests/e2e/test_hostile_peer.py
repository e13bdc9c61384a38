"""A hostile OpenIM user speaks to the message gateway directly and sends a bridge user
everything a decoder can choke on (issue 10): deeply nested JSON, invalid UTF-8,
wrong JSON types in every content type, forged notifications in the shared n_
conversation, an unstored message claiming seq 2^63-1.

Whatever the imserver accepts reaches the victim's core, which must keep working:
calls answer 200, the stream delivers the next normal message, history of the
hostile conversation answers 200, no core task died, re-login works.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import connect

from core.core import Core
from core.msgstruct import ELEM_FIELDS
from core.protocol import openim_pb2 as pb
from core.protocol.constants import ContentType, ReqIdentifier
from tests.imserver_gateway.harness import Client
from tests.support.stack import BridgeUser, Stack

NESTED = ("[" * 3000 + "]" * 3000).encode()
# Wrong JSON types for every field any elem or tips has, and values strict JSON refuses.
WRONG_TYPES: list[bytes] = [
    NESTED,
    b'{"content": "\xff\xfe broken utf-8"}',
    b"\xff\x00\xfe\x80",
    b'{"content": {"x": [1]}, "text": null, "atUserList": 5, "sourcePicture": "no", "multiMessage": 7}',
    b'{"content": NaN, "size": 1e400, "n": -Infinity}',
    b'{"content": "\\ud800 lone surrogate", "\\udfff": 1}',
    b'[1, "two", {"three": 3}]',
    b'"just a string"',
    b"12345678901234567890123456789012345678901234567890",
    b"",
]
TIPS: list[dict[str, Any]] = [
    {"conversationID": 5, "seq": "x", "seqs": "abc", "group": [1], "conversationIDList": 7, "userID": {"a": 1}},
    {"conversationID": None, "seq": 1e300, "seqs": [None, "1", 2**70, -1, True], "hasReadSeq": "many"},
    {"conversationIDList": [1, None, {"x": 1}], "group": {"groupID": ["g"]}, "markAsReadUserID": 3},
]
NOTIFICATION_TYPES = [*range(1201, 1211), 1300, 1303, *range(1501, 1521), 1701, 2001, 2101, 2102, 2200]


def _notification_contents() -> list[bytes]:
    out = [json.dumps({"detail": json.dumps(t)}).encode() for t in TIPS]
    out += [json.dumps({"detail": {"not": "a string"}}).encode(), b'{"detail": "' + b"[" * 3000 + b'"}', NESTED]
    out.append(json.dumps({"detail": "[" * 3000 + "]" * 3000}).encode())
    return out


@asynccontextmanager
async def hostile(stack: Stack, user_id: str) -> AsyncIterator[Client]:
    """Any OpenIM client: its own token, straight to the gateway, JSON envelopes (sdkType=js)."""
    query = {
        "sendID": user_id,
        "token": await stack.token(user_id, 2),
        "platformID": "2",
        "operationID": "op-evil",
        "isBackground": "false",
        "sdkType": "js",
    }
    url = f"{stack.ws_url.rstrip('/')}/?{urlencode(query)}"
    async with connect(url, max_size=None, compression=None) as ws:
        yield Client(ws, user_id, sdk="js", gzip=False)


def _msg(send_id: str, recv_id: str, content_type: int, content: bytes, **options: bool) -> pb.MsgData:
    msg = pb.MsgData(
        sendID=send_id,
        recvID=recv_id,
        clientMsgID=uuid.uuid4().hex,
        senderPlatformID=2,
        sessionType=1,
        msgFrom=100,
        contentType=content_type,
        content=content,
        createTime=1,
    )
    msg.options.update(options)
    return msg


async def _send_text(u: BridgeUser, to: str, text: str) -> dict[str, Any]:
    msg = await u.call("/v1/message/create_text_message", {"text": text})
    sent: dict[str, Any] = await u.call("/v1/message/send_message", {"message": msg, "recvID": to})
    return sent


def _strict(data: str) -> None:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in an event")

    json.loads(data, parse_constant=refuse)


async def _assert_victim_works(stack: Stack, victim: BridgeUser, conv_ids: list[str]) -> None:
    assert (await victim.call("/v1/user/get_self_user_info"))["userID"] == victim.user_id
    assert (await victim.session())["state"] == "live"
    for conv_id in conv_ids:
        page = await victim.call(
            "/v1/message/get_advanced_history_message_list", {"conversationID": conv_id, "count": 200}
        )
        for m in page["messageList"]:
            json.dumps(m, allow_nan=False)
    handle = stack.bridge.pool.handle(victim.session_id)
    assert handle is not None and isinstance(handle.core, Core)
    assert handle.core.dead_tasks() == []
    assert handle.core.stats.failed_pushes == 0, "everything decoded, nothing needed the catch-all"


async def test_hostile_messages_never_break_the_recipients_core(stack: Stack) -> None:
    evil_id, victim_id, friend_id = await stack.new_users(3)
    victim, friend = await stack.login(victim_id), await stack.login(friend_id)
    stream = await victim.stream()
    try:
        kept = await _send_text(friend, victim_id, "keep me")
        await stream.wait_for("OnRecvNewMessage", lambda e: e["data"]["clientMsgID"] == kept["clientMsgID"])
        friend_conv = await victim.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": friend_id, "sessionType": 1}
        )

        answers: list[int] = []
        async with hostile(stack, evil_id) as evil:

            async def send(msg: pb.MsgData) -> None:
                resp = await evil.request(ReqIdentifier.SEND_MSG, msg)
                answers.append(resp.err_code)

            # Every hostile content as a text; every other content type gets three of them in turn.
            for content in WRONG_TYPES:
                await send(_msg(evil_id, victim_id, ContentType.TEXT, content))
            others = [*ELEM_FIELDS, 0, 99, 1000, 4999, 6000]
            for i, content_type in enumerate(others):
                for content in (WRONG_TYPES[(3 * i + k) % len(WRONG_TYPES)] for k in range(3)):
                    await send(_msg(evil_id, victim_id, content_type, content))
            # Stored in our n_ conversation with the victim, so the core reads them as notifications.
            tips = _notification_contents() + WRONG_TYPES[:3]
            for i, content_type in enumerate(NOTIFICATION_TYPES):
                for content in (tips[(2 * i + k) % len(tips)] for k in range(2)):
                    await send(_msg(evil_id, victim_id, content_type, content, isNotNotification=False))
            # A forged revoke of the friend's message in another conversation: must not touch it.
            revoke = {"conversationID": friend_conv, "seq": 1, "clientMsgID": kept["clientMsgID"]}
            forged = json.dumps({"detail": json.dumps({**revoke, "revokerUserID": friend_id})}).encode()
            await send(_msg(evil_id, victim_id, ContentType.MSG_REVOKE, forged, isNotNotification=False))
            # Unstored (history off), claiming the largest seq and times: must not move the sync position.
            for opts in ({"history": False, "persistent": False}, {"history": False, "isNotNotification": False}):
                huge = _msg(evil_id, victim_id, 101, b'{"content": 1e400}', **opts)
                huge.seq = huge.sendTime = huge.createTime = 2**63 - 1
                await send(huge)
        assert answers.count(0) > len(answers) // 2, f"the imserver took most of them: {answers}"

        after = await _send_text(friend, victim_id, "hello after")
        await stream.wait_for("OnRecvNewMessage", lambda e: e["data"]["clientMsgID"] == after["clientMsgID"])
        evil_conv = await victim.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": evil_id, "sessionType": 1}
        )
        # And after the hostile ones, the evil user's normal message still arrives: nothing was skipped.
        evil_bridge = await stack.login(evil_id)
        normal = await _send_text(evil_bridge, victim_id, "normal from evil")
        await stream.wait_for("OnRecvNewMessage", lambda e: e["data"]["clientMsgID"] == normal["clientMsgID"])
        for ev in stream.events:
            _strict(ev.data)

        await _assert_victim_works(stack, victim, [evil_conv, friend_conv])
        # What was skipped shows on /metrics (summed over the node's live cores).
        metrics = (await stack.http.get(f"{stack.bridge.url}/metrics")).text
        skipped = [line for line in metrics.splitlines() if line.startswith("openim_bridge_core_bad_pushes ")]
        assert skipped and float(skipped[0].split()[1]) >= 1, skipped
        history = await victim.call(
            "/v1/message/get_advanced_history_message_list", {"conversationID": friend_conv, "count": 20}
        )
        assert [m["contentType"] for m in history["messageList"]] == [101, 101], "the forged revoke did nothing"
        evil_history = await victim.call(
            "/v1/message/get_advanced_history_message_list", {"conversationID": evil_conv, "count": 200}
        )
        texts = [m for m in evil_history["messageList"] if m["contentType"] == ContentType.TEXT]
        nested = [m for m in texts if m.get("content") == NESTED.decode()]
        assert nested and all("textElem" not in m for m in nested), "shown raw, as the SDK shows what it cannot parse"
    finally:
        await stream.close()

    # Re-login: the same token re-attaches, a new one switches the live core over.
    again = await stack.login(victim_id)
    assert again.session_id == victim.session_id
    fresh = await stack.login(victim_id, token=await stack.token(victim_id))
    await _assert_victim_works(stack, fresh, [evil_conv, friend_conv])
    last = await _send_text(friend, victim_id, "after re-login")
    page = await fresh.call("/v1/message/get_advanced_history_message_list", {"conversationID": friend_conv})
    assert page["messageList"][-1]["clientMsgID"] == last["clientMsgID"]
