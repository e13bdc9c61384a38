"""Insert{Single,Group}MessageToLocalStorage and SetMessageLocalEx
(internal/conversation_msg/api.go), on the durable local message store (core/local_store.py).

An inserted message is the user's own record (a tip, a draft, a message from
another channel): it is never sent, gets a clientMsgID and the current time
like the SDK's, becomes its conversation's latest message (OnNewConversation /
OnConversationChanged) and appears in that conversation's history pages in
sendTime order. SetMessageLocalEx keeps a private string on any known message;
history and the conversation's latestMsg show it.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from pydantic import Field

from core.errors import SdkError
from core.local_store import LocalMessageStore
from core.modules.base import Module, Params
from core.modules.message_create import new_client_msg_id
from core.msgstruct import MsgStruct
from core.protocol.constants import SessionType, single_conversation_id
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["LocalMessagesModule"]

_ID = Field(min_length=1, max_length=64)
_FOREVER = 2**62


class InsertSingleParams(Params):
    message: MsgStruct
    recvID: str = _ID
    sendID: str = _ID


class InsertGroupParams(Params):
    message: MsgStruct
    groupID: str = _ID
    sendID: str = _ID


class LocalExParams(Params):
    conversationID: str = Field(min_length=1, max_length=256)
    clientMsgID: str = Field(min_length=1, max_length=128)
    localEx: str = Field(max_length=10_000)


class LocalMessagesModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._store: LocalMessageStore | None = None

    def store(self) -> LocalMessageStore:
        if self._store is None:
            checkpoints = self.core.checkpoints
            if checkpoints is None:
                raise SdkError(ErrCode.SdkInternalError, detail="no local message store (no checkpoint database)")
            self._store = LocalMessageStore(checkpoints.engine, self.me)
        return self._store

    async def _insert(self, msg: MsgStruct, conv_id: str, session_type: int, peer: str, group: str) -> MsgStruct:
        msg = msg.model_copy(deep=True)
        msg.clientMsgID = new_client_msg_id(msg.sendID)
        msg.sendTime = int(time.time() * 1000)
        msg.createTime = msg.createTime or msg.sendTime
        msg.sessionType, msg.status, msg.seq = session_type, 2, 0
        if msg.sendID != self.me:
            from core.modules.user import GetUsersInfoParams

            infos = await self.core.user.get_users_info(GetUsersInfoParams(userIDs=[msg.sendID]), "local-insert")
            if infos:
                msg.senderNickname, msg.senderFaceUrl = infos[0].nickname, infos[0].faceURL
        await self.store().insert(conv_id, msg)
        conversations = self.core.conversation
        conv = await conversations.ensure(conv_id, session_type, peer, group)
        conversations.message_arrived(conv, msg, from_me=True, counts_unread=False)
        await conversations.flush(None)
        return msg

    @sdk_function("message", "InsertSingleMessageToLocalStorage", InsertSingleParams, MsgStruct)
    async def insert_single_message_to_local_storage(self, p: InsertSingleParams, operation_id: str) -> MsgStruct:
        """Keep a one-to-one message locally only (never sent); it joins the conversation's history."""
        peer = p.sendID if p.sendID != self.me else p.recvID
        msg = p.message.model_copy(update={"sendID": p.sendID, "recvID": p.recvID, "groupID": ""})
        conv_id = single_conversation_id(self.me, peer)
        return await self._insert(msg, conv_id, int(SessionType.SINGLE), peer, "")

    @sdk_function("message", "InsertGroupMessageToLocalStorage", InsertGroupParams, MsgStruct)
    async def insert_group_message_to_local_storage(self, p: InsertGroupParams, operation_id: str) -> MsgStruct:
        """Keep a group message locally only (never sent); it joins the group conversation's history."""
        msg = p.message.model_copy(update={"sendID": p.sendID, "recvID": "", "groupID": p.groupID})
        return await self._insert(msg, f"sg_{p.groupID}", int(SessionType.READ_GROUP), "", p.groupID)

    @sdk_function("message", "SetMessageLocalEx", LocalExParams, None)
    async def set_message_local_ex(self, p: LocalExParams, operation_id: str) -> None:
        """Keep a private string on a message (this user only, never sent)."""
        conversations = self.core.conversation
        conv = conversations.convs.get(p.conversationID)
        known = self.core.message._index.get(p.clientMsgID)
        stored = await self.store().get(p.conversationID, p.clientMsgID)
        if conv is None or (stored is None and (known is None or known[0] != p.conversationID)):
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"message {p.clientMsgID} not found")
        page = self.core.message._cache.get(p.conversationID)
        cached: MsgStruct | None = page.get(known[1]) if page is not None and known else None
        send_time = cached.sendTime if cached is not None else 0
        if cached is not None:
            cached.localEx = p.localEx
        await self.store().set_local_ex(p.conversationID, p.clientMsgID, p.localEx, send_time)
        latest = json.loads(conv.latestMsg) if conv.latestMsg else {}
        if isinstance(latest, dict) and latest.get("clientMsgID") == p.clientMsgID:
            latest["localEx"] = p.localEx
            conv.latestMsg = json.dumps(latest, separators=(",", ":"))
            conversations.touch(p.conversationID)
            await conversations.flush(operation_id)

    async def merge_history(self, conv_id: str, msgs: list[MsgStruct], after: int, until: int) -> list[MsgStruct]:
        """A history page with this conversation's local messages of (after, until] and every localEx applied."""
        if self.core.checkpoints is None:
            return msgs
        rows = await self.store().in_conversation(conv_id, after, until if until else _FOREVER)
        local_ex = {r.client_msg_id: r.local_ex for r in rows if r.message is None}
        out = [m.model_copy(update={"localEx": local_ex[m.clientMsgID]}) if m.clientMsgID in local_ex else m
               for m in msgs]  # fmt: skip
        out += [r.message for r in rows if r.message is not None]
        return sorted(out, key=lambda m: (m.sendTime, m.seq))
