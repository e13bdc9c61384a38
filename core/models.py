"""JSON shapes the SDK core emits (openim-sdk-core model_struct; openim-v3.md 5.8).

Keys are OpenIM's own (`userID`, `faceURL`), so a client written for the
official SDK reads the same objects from the bridge.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from core.untrusted import integer, text

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
    "black_from_server",
    "friend_from_server",
    "group_from_server",
    "group_request_from_server",
    "member_from_server",
    "request_from_server",
    "user_from_server",
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


# Tolerant of wrong JSON types (a wrong type reads as the zero value): see core.untrusted.
_s = text
_i = integer


def user_from_server(u: dict[str, Any]) -> LocalUser:
    """sdkws.UserInfo -> LocalUser."""
    return LocalUser(
        userID=_s(u, "userID"),
        nickname=_s(u, "nickname"),
        faceURL=_s(u, "faceURL"),
        createTime=_i(u, "createTime"),
        ex=_s(u, "ex"),
        globalRecvMsgOpt=_i(u, "globalRecvMsgOpt"),
    )


def friend_from_server(f: dict[str, Any]) -> LocalFriend:
    """sdkws.FriendInfo (with nested friendUser) -> LocalFriend."""
    user = f.get("friendUser") or {}
    return LocalFriend(
        ownerUserID=_s(f, "ownerUserID"),
        userID=_s(user, "userID"),
        remark=_s(f, "remark"),
        createTime=_i(f, "createTime"),
        addSource=_i(f, "addSource"),
        operatorUserID=_s(f, "operatorUserID"),
        nickname=_s(user, "nickname"),
        faceURL=_s(user, "faceURL"),
        ex=_s(f, "ex"),
        isPinned=bool(f.get("isPinned")),
    )


def black_from_server(b: dict[str, Any]) -> LocalBlack:
    """sdkws.BlackInfo (with nested blackUserInfo) -> LocalBlack."""
    user = b.get("blackUserInfo") or {}
    return LocalBlack(
        ownerUserID=_s(b, "ownerUserID"),
        userID=_s(user, "userID"),
        nickname=_s(user, "nickname"),
        faceURL=_s(user, "faceURL"),
        createTime=_i(b, "createTime"),
        addSource=_i(b, "addSource"),
        operatorUserID=_s(b, "operatorUserID"),
        ex=_s(b, "ex"),
    )


def request_from_server(r: dict[str, Any]) -> LocalFriendRequest:
    """sdkws.FriendRequest -> LocalFriendRequest (same keys plus attachedInfo)."""
    return LocalFriendRequest.model_validate({**r, "attachedInfo": ""})


class LocalConversation(_Shape):
    """openim-sdk-core LocalConversation; `latestMsg` is a JSON string of a MsgStruct, as in the SDK."""

    conversationID: str
    conversationType: int = 1
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
    groupType: int = 2
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
    roleLevel: int = 20
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
    groupType: int = 2
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


def group_from_server(g: dict[str, Any]) -> LocalGroup:
    """sdkws.GroupInfo -> LocalGroup (same keys)."""
    return LocalGroup.model_validate({k: v for k, v in g.items() if v is not None})


def member_from_server(m: dict[str, Any]) -> LocalGroupMember:
    """sdkws.GroupMemberFullInfo -> LocalGroupMember."""
    return LocalGroupMember.model_validate({k: v for k, v in m.items() if v is not None})


def group_request_from_server(r: dict[str, Any]) -> LocalGroupRequest:
    """sdkws.GroupRequest (nested userInfo / groupInfo) -> LocalGroupRequest."""
    g = r.get("groupInfo") or {}
    u = r.get("userInfo") or {}
    return LocalGroupRequest(
        groupID=_s(g, "groupID"),
        groupName=_s(g, "groupName"),
        notification=_s(g, "notification"),
        introduction=_s(g, "introduction"),
        groupFaceURL=_s(g, "faceURL"),
        createTime=_i(g, "createTime"),
        status=_i(g, "status"),
        creatorUserID=_s(g, "creatorUserID"),
        groupType=_i(g, "groupType") or 2,
        ownerUserID=_s(g, "ownerUserID"),
        memberCount=_i(g, "memberCount"),
        userID=_s(u, "userID"),
        nickname=_s(u, "nickname"),
        userFaceURL=_s(u, "faceURL"),
        handleResult=_i(r, "handleResult"),
        reqMsg=_s(r, "reqMsg"),
        handledMsg=_s(r, "handleMsg"),
        reqTime=_i(r, "reqTime"),
        handleUserID=_s(r, "handleUserID"),
        handledTime=_i(r, "handleTime"),
        ex=_s(r, "ex"),
        joinSource=_i(r, "joinSource"),
        inviterUserID=_s(r, "inviterUserID"),
    )
