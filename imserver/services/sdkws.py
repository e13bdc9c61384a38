"""openim.sdkws shapes that services return and notifications carry, plus Go JSON.

OpenIM encodes protobuf structs with Go `encoding/json` after stripping every
`omitempty` (openimsdk/protocol gen.sh): every field is present, zero values
included, nil repeated fields and nil messages are `null`, int64 are numbers,
keys are the .proto field names in .proto order (openim-v3.md 0.2). Field
declaration order below is therefore the .proto order (openim-v3.md 3.3, 3.4).
The entity shapes core reads too (UserInfo, FriendInfo, ...) live in
core/protocol/sdkws.py and are re-exported here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from core.protocol import openim_pb2
from core.protocol.sdkws import BlackInfo, FriendInfo, FriendRequest, PublicUserInfo, UserInfo, WireModel

__all__ = [
    "BlackAddedTips",
    "BlackDeletedTips",
    "BlackInfo",
    "ClearConversationTips",
    "Conversation",
    "ConversationSetPrivateTips",
    "ConversationUpdateTips",
    "DeleteMsgsTips",
    "FriendApplicationApprovedTips",
    "FriendApplicationRejectedTips",
    "FriendApplicationTips",
    "FriendDeletedTips",
    "FriendInfo",
    "FriendInfoChangedTips",
    "FriendInfoOnly",
    "FriendRequest",
    "FriendsInfoUpdateTips",
    "FromToUserID",
    "MarkAsReadTips",
    "PublicUserInfo",
    "RevokeMsgTips",
    "UserInfo",
    "UserInfoUpdatedTips",
    "WireModel",
    "go_json_dumps",
    "msg_data_json",
    "wire_json",
]

_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_json_dumps(value: Any) -> str:
    """JSON text as Go's `json.Marshal` writes it: compact, UTF-8, HTML-safe.

    The escaped characters can only occur inside JSON strings, so translating
    the whole text is safe. Byte-exactness matters for idHash
    (open-im-server pkg/util/hashutil/id.go: md5 of `json.Marshal(ids)`).
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_GO_ESCAPES)


def wire_json(model: WireModel) -> str:
    return go_json_dumps(model.model_dump(mode="json"))


class FromToUserID(WireModel):
    fromUserID: str = ""
    toUserID: str = ""


class FriendApplicationTips(WireModel):
    fromToUserID: FromToUserID | None = None
    request: FriendRequest | None = None


class FriendApplicationApprovedTips(WireModel):
    fromToUserID: FromToUserID | None = None
    handleMsg: str = ""
    friendVersion: int = 0
    friendVersionID: str = ""
    request: FriendRequest | None = None


class FriendApplicationRejectedTips(WireModel):
    fromToUserID: FromToUserID | None = None
    handleMsg: str = ""
    request: FriendRequest | None = None


class FriendDeletedTips(WireModel):
    fromToUserID: FromToUserID | None = None
    friendVersion: int = 0
    friendVersionID: str = ""


class FriendInfoChangedTips(WireModel):
    fromToUserID: FromToUserID | None = None
    friendVersion: int = 0
    friendVersionID: str = ""
    friendSortVersion: int = 0


class FriendsInfoUpdateTips(WireModel):
    fromToUserID: FromToUserID | None = None
    friendIDs: list[str] | None = None
    friendVersion: int = 0
    friendVersionID: str = ""


class BlackAddedTips(WireModel):
    fromToUserID: FromToUserID | None = None


class BlackDeletedTips(WireModel):
    fromToUserID: FromToUserID | None = None


class UserInfoUpdatedTips(WireModel):
    userID: str = ""


class FriendInfoOnly(WireModel):
    """relation.FriendInfoOnly (jssdk ConversationMsg.friend); createTime in ms."""

    ownerUserID: str = ""
    friendUserID: str = ""
    remark: str = ""
    createTime: int = 0
    addSource: int = 0
    operatorUserID: str = ""
    ex: str = ""
    isPinned: bool = False


class Conversation(WireModel):
    """conversation.Conversation"""

    ownerUserID: str = ""
    conversationID: str = ""
    recvMsgOpt: int = 0
    conversationType: int = 0
    userID: str = ""
    groupID: str = ""
    isPinned: bool = False
    attachedInfo: str = ""
    isPrivateChat: bool = False
    groupAtType: int = 0
    ex: str = ""
    burnDuration: int = 0
    minSeq: int = 0
    maxSeq: int = 0
    msgDestructTime: int = 0
    latestMsgDestructTime: int = 0
    isMsgDestruct: bool = False


class ConversationUpdateTips(WireModel):
    userID: str = ""
    conversationIDList: list[str] | None = None


class ConversationSetPrivateTips(WireModel):
    recvID: str = ""
    sendID: str = ""
    isPrivate: bool = False
    conversationID: str = ""


class ClearConversationTips(WireModel):
    userID: str = ""
    conversationIDs: list[str] | None = None


class DeleteMsgsTips(WireModel):
    userID: str = ""
    conversationID: str = ""
    seqs: list[int] | None = None


class MarkAsReadTips(WireModel):
    markAsReadUserID: str = ""
    conversationID: str = ""
    seqs: list[int] | None = None
    hasReadSeq: int = 0


class RevokeMsgTips(WireModel):
    revokerUserID: str = ""
    clientMsgID: str = ""
    revokeTime: int = 0
    sesstionType: int = 0  # sic (sdkws.proto field 5)
    seq: int = 0
    conversationID: str = ""
    isAdminRevoke: bool = False


def msg_data_json(msg: openim_pb2.MsgData) -> dict[str, Any]:
    """sdkws.MsgData as Go's encoding/json writes the generated struct (bytes as base64)."""
    push_info = msg.offlinePushInfo
    return {
        "sendID": msg.sendID,
        "recvID": msg.recvID,
        "groupID": msg.groupID,
        "clientMsgID": msg.clientMsgID,
        "serverMsgID": msg.serverMsgID,
        "senderPlatformID": msg.senderPlatformID,
        "senderNickname": msg.senderNickname,
        "senderFaceURL": msg.senderFaceURL,
        "sessionType": msg.sessionType,
        "msgFrom": msg.msgFrom,
        "contentType": msg.contentType,
        "content": base64.b64encode(msg.content).decode() if msg.content else None,
        "seq": msg.seq,
        "sendTime": msg.sendTime,
        "createTime": msg.createTime,
        "status": msg.status,
        "isRead": msg.isRead,
        "options": dict(msg.options) or None,
        "offlinePushInfo": {
            "title": push_info.title,
            "desc": push_info.desc,
            "ex": push_info.ex,
            "iOSPushSound": push_info.iOSPushSound,
            "iOSBadgeCount": push_info.iOSBadgeCount,
            "signalInfo": push_info.signalInfo,
        }
        if msg.HasField("offlinePushInfo")
        else None,
        "atUserIDList": list(msg.atUserIDList) or None,
        "attachedInfo": msg.attachedInfo,
        "ex": msg.ex,
    }
