"""/conversation/* (openim-v3.md 1.5.5; open-im-server internal/rpc/conversation)."""

from __future__ import annotations

from core.protocol.errcodes import ErrCode
from imserver.api.request import GoRequest, Int32, Int64, Pagination, UInt64, require_fields, require_page
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.conversations import ConversationChanges
from imserver.services.sdkws import Conversation, WireModel

__all__ = ["router"]

router = ImRouter("/conversation")


class OwnerReq(GoRequest):
    ownerUserID: str = ""

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID)


class OwnerIDsReq(GoRequest):
    ownerUserID: str = ""
    conversationIDs: list[str] | None = None

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID)
        if self.conversationIDs is None:
            raise ImError(ErrCode.ArgsError, "conversationIDs is empty")


class GetConversationReq(GoRequest):
    conversationID: str = ""
    ownerUserID: str = ""

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID, conversationID=self.conversationID)


class UserIDReq(GoRequest):
    userID: str = ""

    def check(self) -> None:
        require_fields(userID=self.userID)


class OwnerPageReq(GoRequest):
    userID: str = ""
    pagination: Pagination | None = None

    def check(self) -> None:
        require_fields(userID=self.userID)
        require_page(self.pagination)


class FullIDsReq(GoRequest):
    idHash: UInt64 = 0
    userID: str = ""

    def check(self) -> None:
        require_fields(userID=self.userID)


class IncrementalReq(GoRequest):
    userID: str = ""
    versionID: str = ""
    version: UInt64 = 0

    def check(self) -> None:
        require_fields(userID=self.userID)


class ConversationReq(GoRequest):
    """conversation.ConversationReq: wrapper fields, None = unchanged."""

    conversationID: str = ""
    conversationType: Int32 = 0
    userID: str = ""
    groupID: str = ""
    recvMsgOpt: Int32 | None = None
    isPinned: bool | None = None
    attachedInfo: str | None = None
    isPrivateChat: bool | None = None
    ex: str | None = None
    burnDuration: Int32 | None = None
    minSeq: Int64 | None = None
    maxSeq: Int64 | None = None
    groupAtType: Int32 | None = None
    msgDestructTime: Int64 | None = None
    isMsgDestruct: bool | None = None


class SetConversationsReq(GoRequest):
    userIDs: list[str] | None = None
    conversation: ConversationReq | None = None

    def check(self) -> None:
        if self.userIDs is None:
            raise ImError(ErrCode.ArgsError, "userID is empty")
        if self.conversation is None or not self.conversation.conversationID:
            raise ImError(ErrCode.ArgsError, "conversation is empty")


class ConversationsResp(WireModel):
    conversations: list[Conversation] | None = None


class ConversationResp(WireModel):
    conversation: Conversation | None = None


class OwnerConversationResp(WireModel):
    total: int = 0
    conversations: list[Conversation] | None = None


class FullIDsResp(WireModel):
    version: int = 0
    versionID: str = ""
    equal: bool = False
    conversationIDs: list[str] | None = None


class IncrementalResp(WireModel):
    version: int = 0
    versionID: str = ""
    full: bool = False
    delete: list[str] | None = None
    insert: list[Conversation] | None = None
    update: list[Conversation] | None = None


class ConversationIDsResp(WireModel):
    conversationIDs: list[str] | None = None


@router.post("/get_all_conversations")
async def get_all_conversations(call: Call, req: OwnerReq) -> ConversationsResp:
    call.check_access(req.ownerUserID)
    return ConversationsResp(conversations=await call.ctx.conversations.all(req.ownerUserID) or None)


@router.post("/get_conversations")
async def get_conversations(call: Call, req: OwnerIDsReq) -> ConversationsResp:
    call.check_access(req.ownerUserID)
    found = await call.ctx.conversations.find(req.ownerUserID, req.conversationIDs or [])
    return ConversationsResp(conversations=found or None)


@router.post("/get_conversation")
async def get_conversation(call: Call, req: GetConversationReq) -> ConversationResp:
    call.check_access(req.ownerUserID)
    found = await call.ctx.conversations.find(req.ownerUserID, [req.conversationID])
    if not found:
        raise ImError(ErrCode.RecordNotFoundError, f"conversation {req.conversationID} not found")
    return ConversationResp(conversation=found[0])


@router.post("/get_owner_conversation")
async def get_owner_conversation(call: Call, req: OwnerPageReq) -> OwnerConversationResp:
    call.check_access(req.userID)
    total, conversations = await call.ctx.conversations.page(req.userID, require_page(req.pagination))
    return OwnerConversationResp(total=total, conversations=conversations or None)


@router.post("/get_full_conversation_ids")
async def get_full_conversation_ids(call: Call, req: FullIDsReq) -> FullIDsResp:
    call.check_access(req.userID)
    head, equal, ids = await call.ctx.conversations.full_ids(req.userID, req.idHash)
    return FullIDsResp(version=head.version, versionID=head.version_id, equal=equal, conversationIDs=ids)


@router.post("/get_incremental_conversations")
async def get_incremental_conversations(call: Call, req: IncrementalReq) -> IncrementalResp:
    call.check_access(req.userID)
    inc = await call.ctx.conversations.incremental(req.userID, req.versionID, req.version)
    return IncrementalResp(
        version=inc.head.version,
        versionID=inc.head.version_id,
        full=inc.full,
        delete=inc.delete,
        insert=inc.insert,
        update=inc.update,
    )


@router.post("/get_not_notify_conversation_ids")
async def get_not_notify_conversation_ids(call: Call, req: UserIDReq) -> ConversationIDsResp:
    call.check_access(req.userID)
    ids = await call.ctx.conversations.ids_where(req.userID, not_notify=True)
    return ConversationIDsResp(conversationIDs=ids or None)


@router.post("/get_pinned_conversation_ids")
async def get_pinned_conversation_ids(call: Call, req: UserIDReq) -> ConversationIDsResp:
    call.check_access(req.userID)
    ids = await call.ctx.conversations.ids_where(req.userID, pinned=True)
    return ConversationIDsResp(conversationIDs=ids or None)


@router.post("/set_conversations")
async def set_conversations(call: Call, req: SetConversationsReq) -> None:
    conv = req.conversation
    assert conv is not None
    user_ids = req.userIDs or []
    for user_id in user_ids:
        # OpenIM checks nothing here; imserver lets users change only their own settings.
        call.check_access(user_id)
    changes = ConversationChanges(
        recv_msg_opt=conv.recvMsgOpt,
        attached_info=conv.attachedInfo,
        ex=conv.ex,
        is_pinned=conv.isPinned,
        group_at_type=conv.groupAtType,
        msg_destruct_time=conv.msgDestructTime,
        is_msg_destruct=conv.isMsgDestruct,
        burn_duration=conv.burnDuration,
    )
    await call.ctx.conversations.set(
        call.op, user_ids, conv.conversationID, changes, conv.isPrivateChat, conv.userID or conv.groupID
    )
