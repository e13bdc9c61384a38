"""/jssdk/* (openim-v3.md 1.5.7; openimsdk/protocol jssdk/jssdk.proto)."""

from __future__ import annotations

from typing import Any

from imserver.api.request import GoRequest, Int64
from imserver.api.routing import Call, ImRouter
from imserver.services.jssdk import ConversationMsg
from imserver.services.sdkws import Conversation, FriendInfoOnly, UserInfo, WireModel

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
    group: dict[str, Any] | None = None
    maxSeq: int = 0
    readSeq: int = 0


class ConversationsResp(WireModel):
    unreadCount: int = 0
    conversations: list[ConversationMsgWire] | None = None


def _answer(unread: int, items: list[ConversationMsg]) -> ConversationsResp:
    return ConversationsResp(
        unreadCount=unread,
        conversations=[
            ConversationMsgWire(
                conversation=i.conversation,
                lastMsg=i.last_msg,
                user=i.user,
                friend=i.friend,
                maxSeq=i.max_seq,
                readSeq=i.read_seq,
            )
            for i in items
        ]
        or None,
    )


@router.post("/get_conversations")
async def get_conversations(call: Call, req: GetConversationsReq) -> ConversationsResp:
    # jssdk.go: the owner is always the caller, whatever the body says.
    return _answer(*await call.ctx.jssdk.conversations(call.op.user_id, req.conversationIDs or []))


@router.post("/get_active_conversations")
async def get_active_conversations(call: Call, req: GetActiveConversationsReq) -> ConversationsResp:
    return _answer(*await call.ctx.jssdk.active(call.op.user_id, req.count))
