"""/jssdk/* (openim-v3.md 1.5.7; openimsdk/protocol jssdk/jssdk.proto), in JSON or protobuf (jssdk_proto.py)."""

from __future__ import annotations

from functools import partial
from typing import Any

from imserver.api.jssdk_proto import decode_request, encode_response
from imserver.api.request import GoRequest, Int64
from imserver.api.routing import Call, ImRouter
from imserver.services.jssdk import ConversationMsg
from imserver.services.sdkws import Conversation, FriendInfoOnly, UserInfo, WireModel, msg_data_json
from imserver.services.sdkws_group import GroupInfo

__all__ = ["router"]

router = ImRouter("/jssdk")


class GetConversationsReq(GoRequest):
    ownerUserID: str = ""
    conversationIDs: list[str] | None = None


class GetActiveConversationsReq(GoRequest):
    ownerUserID: str = ""
    count: Int64 = 0


class ConversationMsgWire(WireModel):
    conversation: Conversation | None = None
    lastMsg: dict[str, Any] | None = None
    user: UserInfo | None = None
    friend: FriendInfoOnly | None = None
    group: GroupInfo | None = None
    maxSeq: int = 0
    readSeq: int = 0


class ConversationsResp(WireModel):
    unreadCount: int = 0
    conversations: list[ConversationMsgWire] | None = None


def _answer(call: Call, unread: int, items: list[ConversationMsg]) -> ConversationsResp | bytes:
    if call.binary:
        return encode_response(unread, items)
    return ConversationsResp(
        unreadCount=unread,
        conversations=[
            ConversationMsgWire(
                conversation=i.conversation,
                lastMsg=msg_data_json(i.last_msg),
                user=i.user,
                friend=i.friend,
                group=i.group,
                maxSeq=i.max_seq,
                readSeq=i.read_seq,
            )
            for i in items
        ]
        or None,
    )


@router.post("/get_conversations", protobuf=partial(decode_request, "get_conversations"))
async def get_conversations(call: Call, req: GetConversationsReq) -> ConversationsResp | bytes:
    # jssdk.go: the owner is always the caller, whatever the body says.
    return _answer(call, *await call.ctx.jssdk.conversations(call.op.user_id, req.conversationIDs or []))


@router.post("/get_active_conversations", protobuf=partial(decode_request, "get_active_conversations"))
async def get_active_conversations(call: Call, req: GetActiveConversationsReq) -> ConversationsResp | bytes:
    return _answer(call, *await call.ctx.jssdk.active(call.op.user_id, req.count))
