"""JSON shapes the SDK core emits (openim-sdk-core model_struct; openim-v3.md 5.8).

Keys are OpenIM's own (`userID`, `faceURL`), so a client written for the
official SDK reads the same objects from the bridge. core/server_reads.py
builds them from the server's answers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from core.protocol.constants import WORKING_GROUP, RoleLevel, SessionType

__all__ = [
    "FriendCheckResult",
    "LocalBlack",
    "LocalConversation",
    "LocalFriend",
    "LocalFriendRequest",
    "LocalGroup",
    "LocalGroupMember",
    "LocalGroupRequest",
    "LocalUser",
    "PublicUser",
    "SearchFriendItem",
]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LocalUser(_Shape):
    userID: str
    nickname: str = ""
    faceURL: str = ""
    createTime: int = 0
    ex: str = ""
    attachedInfo: str = ""
    globalRecvMsgOpt: int = 0


class PublicUser(_Shape):
    userID: str
    nickname: str = ""
    faceURL: str = ""
    ex: str = ""
    createTime: int = 0


class LocalFriend(_Shape):
    ownerUserID: str
    userID: str
    remark: str = ""
    createTime: int = 0
    addSource: int = 0
    operatorUserID: str = ""
    nickname: str = ""
    faceURL: str = ""
    ex: str = ""
    attachedInfo: str = ""
    isPinned: bool = False


class SearchFriendItem(LocalFriend):
    relationship: int = 1  # 1 friend, 0 black (openim-v3.md 5.4)


class LocalBlack(_Shape):
    ownerUserID: str
    userID: str
    nickname: str = ""
    faceURL: str = ""
    createTime: int = 0
    addSource: int = 0
    operatorUserID: str = ""
    ex: str = ""
    attachedInfo: str = ""


class LocalFriendRequest(_Shape):
    fromUserID: str
    fromNickname: str = ""
    fromFaceURL: str = ""
    toUserID: str
    toNickname: str = ""
    toFaceURL: str = ""
    handleResult: int = 0
    reqMsg: str = ""
    createTime: int = 0
    handlerUserID: str = ""
    handleMsg: str = ""
    handleTime: int = 0
    ex: str = ""
    attachedInfo: str = ""


class FriendCheckResult(_Shape):
    userID: str
    result: int  # 1 = friend and not blacklisted, else 0


class LocalConversation(_Shape):
    """openim-sdk-core LocalConversation; `latestMsg` is a JSON string of a MsgStruct, as in the SDK."""

    conversationID: str
    conversationType: int = SessionType.SINGLE
    userID: str = ""
    groupID: str = ""
    showName: str = ""
    faceURL: str = ""
    recvMsgOpt: int = 0
    unreadCount: int = 0
    groupAtType: int = 0
    latestMsg: str = ""
    latestMsgSendTime: int = 0
    draftText: str = ""
    draftTextTime: int = 0
    isPinned: bool = False
    isPrivateChat: bool = False
    burnDuration: int = 0
    isNotInGroup: bool = False
    updateUnreadCountTime: int = 0
    attachedInfo: str = ""
    ex: str = ""
    maxSeq: int = 0
    minSeq: int = 0
    msgDestructTime: int = 0
    isMsgDestruct: bool = False


class LocalGroup(_Shape):
    groupID: str
    groupName: str = ""
    notification: str = ""
    introduction: str = ""
    faceURL: str = ""
    createTime: int = 0
    status: int = 0
    creatorUserID: str = ""
    groupType: int = WORKING_GROUP
    ownerUserID: str = ""
    memberCount: int = 0
    ex: str = ""
    attachedInfo: str = ""
    needVerification: int = 0
    lookMemberInfo: int = 0
    applyMemberFriend: int = 0
    notificationUpdateTime: int = 0
    notificationUserID: str = ""


class LocalGroupMember(_Shape):
    groupID: str
    userID: str
    nickname: str = ""
    faceURL: str = ""
    roleLevel: int = RoleLevel.ORDINARY
    joinTime: int = 0
    joinSource: int = 0
    inviterUserID: str = ""
    muteEndTime: int = 0
    operatorUserID: str = ""
    ex: str = ""
    attachedInfo: str = ""


class LocalGroupRequest(_Shape):
    groupID: str
    groupName: str = ""
    notification: str = ""
    introduction: str = ""
    groupFaceURL: str = ""
    createTime: int = 0
    status: int = 0
    creatorUserID: str = ""
    groupType: int = WORKING_GROUP
    ownerUserID: str = ""
    memberCount: int = 0
    userID: str
    nickname: str = ""
    userFaceURL: str = ""
    handleResult: int = 0
    reqMsg: str = ""
    handledMsg: str = ""
    reqTime: int = 0
    handleUserID: str = ""
    handledTime: int = 0
    ex: str = ""
    attachedInfo: str = ""
    joinSource: int = 0
    inviterUserID: str = ""
