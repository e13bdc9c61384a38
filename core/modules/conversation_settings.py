"""v3.8 conversation functions: the generic setter SetConversation, SearchConversation and
HideAllConversations (open_im_sdk/conversation_msg.go; internal/conversation_msg/api.go).

SetConversation sends any fields of conversation.ConversationReq to
`/conversation/set_conversations` (a field left out is not changed, as the
wrapper types mean) and re-reads the conversation, which fires
OnConversationChanged. The 3.5 setters (PinConversation,
SetConversationRecvMessageOpt, ...) are the same call with one field.
SearchConversation matches the show name, as the SDK's SQL `show_name like`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.errors import SdkError
from core.models import LocalConversation
from core.modules.base import Module, NoParams, Params
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function

__all__ = ["ConversationReq", "ConversationSettingsModule"]


class ConversationReq(Params):
    """conversation.ConversationReq without the identity fields (taken from the conversation)."""

    recvMsgOpt: int | None = Field(default=None, ge=0, le=2)
    isPinned: bool | None = None
    attachedInfo: str | None = Field(default=None, max_length=4096)
    isPrivateChat: bool | None = None
    ex: str | None = Field(default=None, max_length=4096)
    burnDuration: int | None = Field(default=None, ge=0, le=365 * 24 * 3600)
    groupAtType: int | None = Field(default=None, ge=0, le=3)
    msgDestructTime: int | None = Field(default=None, ge=0, description="seconds")
    isMsgDestruct: bool | None = None


class SetConversationParams(Params):
    conversationID: str = Field(min_length=1, max_length=256)
    req: ConversationReq


class SearchConversationParams(Params):
    searchParam: str = Field(min_length=1, max_length=256, description="part of the show name")


class ConversationSettingsModule(Module):
    async def set_fields(self, conv_id: str, fields: dict[str, Any], operation_id: str) -> None:
        """Set server-side fields of a conversation for the login user (all its devices)."""
        conv = self.core.conversation.convs.get(conv_id)
        if conv is None:
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"conversation {conv_id} not found")
        if not fields:
            raise SdkError(ErrCode.SdkArgsError, detail="req sets no field")
        req = {"conversationID": conv_id, "conversationType": conv.conversationType, "userID": conv.userID,
               "groupID": conv.groupID, **fields}  # fmt: skip
        body = {"userIDs": [self.me], "conversation": req}
        await self.core.api.post("/conversation/set_conversations", body, operation_id)
        if "groupAtType" in fields:
            conv.groupAtType = fields["groupAtType"]
        await self.core.conversation.refresh([conv_id], operation_id)
        await self.core.conversation.flush(operation_id)

    @sdk_function("conversation", "SetConversation", SetConversationParams, None)
    async def set_conversation(self, p: SetConversationParams, operation_id: str) -> None:
        """Set any of recvMsgOpt, isPinned, attachedInfo, isPrivateChat, ex, burnDuration, groupAtType,
        msgDestructTime, isMsgDestruct of a conversation (synced to the user's other devices)."""
        await self.set_fields(p.conversationID, p.req.model_dump(exclude_none=True), operation_id)

    @sdk_function("conversation", "HideAllConversations", NoParams, None)
    async def hide_all_conversations(self, p: NoParams, operation_id: str) -> None:
        """Hide every conversation until its next message."""
        await self.core.conversation.hide_all_conversation(p, operation_id)

    @sdk_function(
        "conversation", "SearchConversation", SearchConversationParams, list[LocalConversation], read_only=True
    )
    async def search_conversation(self, p: SearchConversationParams, operation_id: str) -> list[LocalConversation]:
        """Conversations whose show name contains `searchParam` (case-insensitive), newest first."""
        word = p.searchParam.lower()
        found = [c for c in self.core.conversation.convs.values() if word in c.showName.lower()]
        return sorted(found, key=lambda c: -c.latestMsgSendTime)
