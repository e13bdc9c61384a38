"""v3.8 read functions beyond one conversation: MarkAllConversationMessageAsRead and
MarkMessagesAsReadByMsgID (open_im_sdk/conversation_msg.go; internal/conversation_msg/read_drawing.go).

MarkAllConversationMessageAsRead marks every conversation with unread
messages read, each as MarkConversationMessageAsRead does. MarkMessagesAsReadByMsgID
sends the chosen messages' seqs to `/msg/mark_msgs_as_read` (the sender gets
a read receipt); the conversation's read position moves over them when they
continue it, so its unread count drops by what became contiguous.
"""

from __future__ import annotations

from pydantic import Field

from core.errors import SdkError
from core.modules.base import Module, NoParams, Params
from core.modules.message import ConversationIDParams
from core.protocol.constants import PARAM_MAX_LENGTH
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function

__all__ = ["ReadStateModule"]


class MsgIDsParams(Params):
    conversationID: str = Field(min_length=1, max_length=256)
    clientMsgIDs: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class ReadStateModule(Module):
    @sdk_function("conversation", "MarkAllConversationMessageAsRead", NoParams, None)
    async def mark_all_conversation_message_as_read(self, p: NoParams, operation_id: str) -> None:
        """Mark every conversation read; peers of one-to-one chats get OnRecvC2CReadReceipt."""
        conversations = self.core.conversation
        for conv_id in [c.conversationID for c in conversations.convs.values() if c.unreadCount > 0]:
            await self.core.message.mark_conversation_message_as_read(
                ConversationIDParams(conversationID=conv_id), operation_id
            )

    @sdk_function("conversation", "MarkMessagesAsReadByMsgID", MsgIDsParams, None)
    async def mark_messages_as_read_by_msg_id(self, p: MsgIDsParams, operation_id: str) -> None:
        """Mark some messages of a conversation read (their senders get read receipts)."""
        conversations = self.core.conversation
        conv = conversations.convs.get(p.conversationID)
        if conv is None:
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"conversation {p.conversationID} not found")
        seqs = sorted(
            {await self.core.message._seq_of(p.conversationID, m, operation_id) for m in dict.fromkeys(p.clientMsgIDs)}
        )
        body = {"conversationID": p.conversationID, "seqs": seqs, "userID": self.me}
        await self.core.api.post("/msg/mark_msgs_as_read", body, operation_id)
        has_read = conversations.has_read.get(p.conversationID, 0)
        marked = set(seqs)
        while has_read + 1 in marked:
            has_read += 1
        if has_read > conversations.has_read.get(p.conversationID, 0):
            conversations.set_read(p.conversationID, has_read)
            await conversations.flush(operation_id)
