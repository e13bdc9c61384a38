"""/msg/* (openim-v3.md 1.5.6; open-im-server internal/api/msg.go, internal/rpc/msg)."""

from __future__ import annotations

from typing import Any

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ContentType, MsgFrom, SessionType
from core.protocol.errcodes import ErrCode
from imserver.api.request import GoRequest, Int32, Int64, require_fields
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.notify import md5_msg_id
from imserver.services.sdkws import WireModel, go_json_dumps, msg_data_json

__all__ = ["router"]

router = ImRouter("/msg")

# msg.go getSendMsgReq: the content types an admin may send over HTTP (1400 OANotification).
_SENDABLE = {
    ContentType.TEXT,
    ContentType.PICTURE,
    ContentType.VOICE,
    ContentType.VIDEO,
    ContentType.FILE,
    ContentType.AT_TEXT,
    ContentType.CUSTOM,
    ContentType.OA_NOTIFICATION,
}


class DeleteSyncOpt(GoRequest):
    IsSyncSelf: bool = False
    IsSyncOther: bool = False


class UserIDReq(GoRequest):
    userID: str = ""

    def check(self) -> None:
        require_fields(userID=self.userID)


class HasReadAndMaxSeqReq(GoRequest):
    userID: str = ""
    conversationIDs: list[str] | None = None
    returnPinned: bool = False

    def check(self) -> None:
        require_fields(userID=self.userID)


class RevokeMsgReq(GoRequest):
    conversationID: str = ""
    seq: Int64 = 0
    userID: str = ""

    def check(self) -> None:
        require_fields(conversationID=self.conversationID, userID=self.userID)
        if self.seq < 1:
            raise ImError(ErrCode.ArgsError, "seq is invalid")


class MarkMsgsAsReadReq(GoRequest):
    conversationID: str = ""
    seqs: list[Int64] | None = None
    userID: str = ""

    def check(self) -> None:
        require_fields(conversationID=self.conversationID)
        if self.seqs is None:
            raise ImError(ErrCode.ArgsError, "seqs is empty")
        require_fields(userID=self.userID)
        if 0 in self.seqs:
            raise ImError(ErrCode.ArgsError, "seqs has 0 value is invalid")


class MarkConversationAsReadReq(GoRequest):
    conversationID: str = ""
    userID: str = ""
    hasReadSeq: Int64 = 0
    seqs: list[Int64] | None = None

    def check(self) -> None:
        require_fields(conversationID=self.conversationID, userID=self.userID)
        if self.hasReadSeq < 1:
            raise ImError(ErrCode.ArgsError, "hasReadSeq is invalid")
        if 0 in (self.seqs or []):
            raise ImError(ErrCode.ArgsError, "seqs has 0 value is invalid")


class SetHasReadSeqReq(GoRequest):
    conversationID: str = ""
    userID: str = ""
    hasReadSeq: Int64 = 0
    noNotification: bool = False

    def check(self) -> None:
        require_fields(conversationID=self.conversationID, userID=self.userID)
        if self.hasReadSeq < 1:
            raise ImError(ErrCode.ArgsError, "hasReadSeq is invalid")


class ClearConversationsMsgReq(GoRequest):
    conversationIDs: list[str] | None = None
    userID: str = ""
    deleteSyncOpt: DeleteSyncOpt | None = None

    def check(self) -> None:
        if self.conversationIDs is None:
            raise ImError(ErrCode.ArgsError, "conversationIDs is empty")
        require_fields(userID=self.userID)


class UserClearAllMsgReq(GoRequest):
    userID: str = ""
    deleteSyncOpt: DeleteSyncOpt | None = None

    def check(self) -> None:
        require_fields(userID=self.userID)


class DeleteMsgsReq(GoRequest):
    conversationID: str = ""
    seqs: list[Int64] | None = None
    userID: str = ""
    deleteSyncOpt: DeleteSyncOpt | None = None

    def check(self) -> None:
        require_fields(conversationID=self.conversationID, userID=self.userID)
        if self.seqs is None:
            raise ImError(ErrCode.ArgsError, "seqs is empty")


class EmptyReq(GoRequest):
    pass


class OfflinePushInfoReq(GoRequest):
    title: str = ""
    desc: str = ""
    ex: str = ""
    iOSPushSound: str = ""
    iOSBadgeCount: bool = False
    signalInfo: str = ""


class SendMsgReq(GoRequest):
    """apistruct.SendMsgReq (pkg/apistruct/manage.go)."""

    recvID: str = ""
    sendID: str = ""
    groupID: str = ""
    senderNickname: str = ""
    senderFaceURL: str = ""
    senderPlatformID: Int32 = 0
    content: dict[str, Any] | None = None
    contentType: Int32 = 0
    sessionType: Int32 = 0
    isOnlineOnly: bool = False
    notOfflinePush: bool = False
    sendTime: Int64 = 0
    offlinePushInfo: OfflinePushInfoReq | None = None
    ex: str = ""

    def check(self) -> None:
        require_fields(sendID=self.sendID)
        if self.content is None:
            raise ImError(ErrCode.ArgsError, "content is required")
        if not self.contentType or not self.sessionType:
            raise ImError(ErrCode.ArgsError, "contentType and sessionType are required")


class SeqsEntry(WireModel):
    maxSeq: int = 0
    hasReadSeq: int = 0
    maxSeqTime: int = 0


class HasReadAndMaxSeqResp(WireModel):
    seqs: dict[str, SeqsEntry] | None = None
    pinnedConversationIDs: list[str] | None = None


class NewestSeqResp(WireModel):
    maxSeqs: dict[str, int] | None = None
    minSeqs: dict[str, int] | None = None


class ServerTimeResp(WireModel):
    serverTime: int = 0


class SendMsgResp(WireModel):
    serverMsgID: str = ""
    clientMsgID: str = ""
    sendTime: int = 0
    modify: dict[str, Any] | None = None


def _sync(opt: DeleteSyncOpt | None) -> tuple[bool, bool]:
    return (opt.IsSyncSelf, opt.IsSyncOther) if opt is not None else (False, False)


@router.post("/get_conversations_has_read_and_max_seq")
async def get_conversations_has_read_and_max_seq(call: Call, req: HasReadAndMaxSeqReq) -> HasReadAndMaxSeqResp:
    call.check_access(req.userID)
    resp = await call.ctx.messages.has_read_and_max_seq(req.userID, req.conversationIDs or [], req.returnPinned)
    return HasReadAndMaxSeqResp(
        seqs={
            cid: SeqsEntry(maxSeq=s.maxSeq, hasReadSeq=s.hasReadSeq, maxSeqTime=s.maxSeqTime)
            for cid, s in resp.seqs.items()
        },
        pinnedConversationIDs=list(resp.pinnedConversationIDs) or None,
    )


@router.post("/newest_seq")
async def newest_seq(call: Call, req: UserIDReq) -> NewestSeqResp:
    call.check_access(req.userID)
    resp = await call.ctx.messages.newest_seq(req.userID)
    return NewestSeqResp(maxSeqs=dict(resp.maxSeqs) or None, minSeqs=dict(resp.minSeqs) or None)


@router.post("/get_server_time")
async def get_server_time(call: Call, req: EmptyReq) -> ServerTimeResp:
    return ServerTimeResp(serverTime=call.ctx.settings.now_ms())


@router.post("/revoke_msg")
async def revoke_msg(call: Call, req: RevokeMsgReq) -> None:
    call.check_access(req.userID)
    await call.ctx.messages.revoke(call.op, req.userID, req.conversationID, req.seq)


@router.post("/mark_msgs_as_read")
async def mark_msgs_as_read(call: Call, req: MarkMsgsAsReadReq) -> None:
    call.check_access(req.userID)
    await call.ctx.messages.mark_msgs_as_read(call.op, req.userID, req.conversationID, req.seqs or [])


@router.post("/mark_conversation_as_read")
async def mark_conversation_as_read(call: Call, req: MarkConversationAsReadReq) -> None:
    call.check_access(req.userID)
    await call.ctx.messages.mark_conversation_as_read(
        call.op, req.userID, req.conversationID, req.hasReadSeq, req.seqs or []
    )


@router.post("/set_conversation_has_read_seq")
async def set_conversation_has_read_seq(call: Call, req: SetHasReadSeqReq) -> None:
    call.check_access(req.userID)
    await call.ctx.messages.set_has_read_seq(call.op, req.userID, req.conversationID, req.hasReadSeq)


@router.post("/clear_conversation_msg")
async def clear_conversation_msg(call: Call, req: ClearConversationsMsgReq) -> None:
    call.check_access(req.userID)
    sync_self, sync_other = _sync(req.deleteSyncOpt)
    await call.ctx.messages.clear(
        call.op, req.userID, req.conversationIDs or [], sync_self=sync_self, sync_other=sync_other
    )


@router.post("/user_clear_all_msg")
async def user_clear_all_msg(call: Call, req: UserClearAllMsgReq) -> None:
    call.check_access(req.userID)
    sync_self, sync_other = _sync(req.deleteSyncOpt)
    await call.ctx.messages.clear(call.op, req.userID, None, sync_self=sync_self, sync_other=sync_other)


@router.post("/delete_msgs")
async def delete_msgs(call: Call, req: DeleteMsgsReq) -> None:
    call.check_access(req.userID)
    sync_self, sync_other = _sync(req.deleteSyncOpt)
    await call.ctx.messages.delete_msgs(
        call.op, req.userID, req.conversationID, req.seqs or [], sync_self=sync_self, sync_other=sync_other
    )


@router.post("/send_msg")
async def send_msg(call: Call, req: SendMsgReq) -> SendMsgResp:
    call.require_admin()
    if req.contentType not in _SENDABLE:
        raise ImError(ErrCode.ArgsError, f"unsupported content type {req.contentType}")
    session_type = SessionType.NOTIFICATION if req.contentType == ContentType.OA_NOTIFICATION else req.sessionType
    content = go_json_dumps(req.content)
    if req.contentType == ContentType.OA_NOTIFICATION:
        content = go_json_dumps({"detail": content})
    options: dict[str, bool] = {}
    if req.isOnlineOnly:
        options.update(history=False, persistent=False, senderSync=False, conversationUpdate=False)
    if req.notOfflinePush:
        options["offlinePush"] = False
    push = req.offlinePushInfo
    msg = pb.MsgData(
        sendID=req.sendID,
        recvID=req.recvID,
        groupID=req.groupID,
        clientMsgID=md5_msg_id(req.sendID),
        senderPlatformID=req.senderPlatformID,
        senderNickname=req.senderNickname,
        senderFaceURL=req.senderFaceURL,
        sessionType=session_type,
        msgFrom=MsgFrom.SYSTEM,
        contentType=req.contentType,
        content=content.encode(),
        createTime=call.ctx.settings.now_ms(),
        sendTime=req.sendTime,
        ex=req.ex,
    )
    if push is not None:
        msg.offlinePushInfo.CopyFrom(pb.OfflinePushInfo(**push.model_dump()))
    msg.options.update(options)
    resp = await call.ctx.messages.send(call.op, msg)
    modify = msg_data_json(resp.modify) if resp.HasField("modify") else None
    return SendMsgResp(
        serverMsgID=resp.serverMsgID, clientMsgID=resp.clientMsgID, sendTime=resp.sendTime, modify=modify
    )


class BusinessNotificationReq(GoRequest):
    key: str = ""
    data: str = ""
    sendUserID: str = ""
    recvUserID: str = ""
    sendMsg: bool = False

    def check(self) -> None:
        require_fields(key=self.key, sendUserID=self.sendUserID, recvUserID=self.recvUserID)


class BusinessTips(WireModel):
    key: str = ""
    data: str = ""


@router.post("/send_business_notification")
async def send_business_notification(call: Call, req: BusinessNotificationReq) -> SendMsgResp:
    """Admin-only custom notification, contentType 2001, detail `{"key","data"}`
    (open-im-server internal/api/msg.go SendBusinessNotification)."""
    call.require_admin()
    msg = await call.ctx.notifier.send(
        call.op.operation_id,
        req.sendUserID,
        req.recvUserID,
        ContentType.BUSINESS,
        BusinessTips(key=req.key, data=req.data),
        send_message=req.sendMsg,
    )
    return SendMsgResp(serverMsgID=msg.serverMsgID, clientMsgID=msg.clientMsgID, sendTime=msg.sendTime)
