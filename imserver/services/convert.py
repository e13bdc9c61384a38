"""Rows -> sdkws shapes, with OpenIM's own quirks kept (pkg/common/convert/*.go).

* UserInfo.createTime is milliseconds (convert.UserDB2Pb).
* FriendInfo from list/sync routes has createTime in SECONDS and a friendUser
  holding only userID/nickname/faceURL/ex (convert.FriendsDB2Pb).
* BlackInfo from get_black_list has createTime in seconds (convert.BlackDB2Pb);
  get_specified_blacks / get_specified_friends_info use milliseconds.
* FriendRequest times are milliseconds; an unhandled request has handleTime 0
  (time.Unix(0, 0).UnixMilli()).
* Group times (createTime, joinTime, muteEndTime, reqTime, ...) are milliseconds
  (convert/group.go); GroupInfo.ownerUserID and memberCount come from the member
  table; GroupMemberFullInfo leaves appMangerLevel 0 (commented out in
  Db2PbGroupMember) and takes an empty nickname/faceURL from the user
  (PopulateGroupMember).
"""

from __future__ import annotations

from collections.abc import Mapping

from imserver.models import BlackRow, FriendRequestRow, FriendRow, GroupMemberRow, GroupRequestRow, GroupRow, UserRow
from imserver.services.sdkws import BlackInfo, FriendInfo, FriendRequest, PublicUserInfo, UserInfo
from imserver.services.sdkws_group import GroupInfo, GroupMemberFullInfo, GroupRequest

__all__ = [
    "black_info",
    "friend_info",
    "friend_request",
    "group_info",
    "group_member",
    "group_request",
    "public_user",
    "user_info",
]


def user_info(row: UserRow) -> UserInfo:
    return UserInfo(
        userID=row.user_id,
        nickname=row.nickname,
        faceURL=row.face_url,
        ex=row.ex,
        createTime=row.create_time,
        appMangerLevel=row.app_manger_level,
        globalRecvMsgOpt=row.global_recv_msg_opt,
    )


def public_user(row: UserRow) -> PublicUserInfo:
    return PublicUserInfo(userID=row.user_id, nickname=row.nickname, faceURL=row.face_url, ex=row.ex)


def friend_info(row: FriendRow, friend: UserRow | None, *, millis: bool = False, with_user: bool = True) -> FriendInfo:
    """`with_user=False` leaves friendUser null (friend.go GetSpecifiedFriendsInfo)."""
    friend_user: UserInfo | None = UserInfo() if with_user else None
    if friend is not None and with_user:
        friend_user = UserInfo(userID=friend.user_id, nickname=friend.nickname, faceURL=friend.face_url, ex=friend.ex)
    return FriendInfo(
        ownerUserID=row.owner_user_id,
        remark=row.remark,
        createTime=row.create_time if millis else row.create_time // 1000,
        friendUser=friend_user,
        addSource=row.add_source,
        operatorUserID=row.operator_user_id,
        ex=row.ex,
        isPinned=row.is_pinned,
    )


def black_info(row: BlackRow, blocked: UserRow | None, *, millis: bool = False, with_user: bool = True) -> BlackInfo:
    """`with_user=False` leaves blackUserInfo null (friend.go GetSpecifiedFriendsInfo)."""
    return BlackInfo(
        ownerUserID=row.owner_user_id,
        createTime=row.create_time if millis else row.create_time // 1000,
        blackUserInfo=public_user(blocked) if with_user and blocked is not None else None,
        addSource=row.add_source,
        operatorUserID=row.operator_user_id,
        ex=row.ex,
    )


def friend_request(row: FriendRequestRow, users: Mapping[str, UserRow]) -> FriendRequest:
    sender, receiver = users.get(row.from_user_id), users.get(row.to_user_id)
    return FriendRequest(
        fromUserID=row.from_user_id,
        fromNickname=sender.nickname if sender else "",
        fromFaceURL=sender.face_url if sender else "",
        toUserID=row.to_user_id,
        toNickname=receiver.nickname if receiver else "",
        toFaceURL=receiver.face_url if receiver else "",
        handleResult=row.handle_result,
        reqMsg=row.req_msg,
        createTime=row.create_time,
        handlerUserID=row.handler_user_id,
        handleMsg=row.handle_msg,
        handleTime=row.handle_time,
        ex=row.ex,
    )


def group_info(row: GroupRow, owner_user_id: str, member_count: int) -> GroupInfo:
    """convert.Db2PbGroupInfo"""
    return GroupInfo(
        groupID=row.group_id,
        groupName=row.group_name,
        notification=row.notification,
        introduction=row.introduction,
        faceURL=row.face_url,
        ownerUserID=owner_user_id,
        createTime=row.create_time,
        memberCount=member_count,
        ex=row.ex,
        status=row.status,
        creatorUserID=row.creator_user_id,
        groupType=row.group_type,
        needVerification=row.need_verification,
        lookMemberInfo=row.look_member_info,
        applyMemberFriend=row.apply_member_friend,
        notificationUpdateTime=row.notification_update_time,
        notificationUserID=row.notification_user_id,
    )


def group_member(row: GroupMemberRow, user: UserRow | None) -> GroupMemberFullInfo:
    """convert.Db2PbGroupMember after PopulateGroupMember."""
    return GroupMemberFullInfo(
        groupID=row.group_id,
        userID=row.user_id,
        roleLevel=row.role_level,
        joinTime=row.join_time,
        nickname=row.nickname or (user.nickname if user else ""),
        faceURL=row.face_url or (user.face_url if user else ""),
        appMangerLevel=0,
        joinSource=row.join_source,
        operatorUserID=row.operator_user_id,
        ex=row.ex,
        muteEndTime=row.mute_end_time,
        inviterUserID=row.inviter_user_id,
    )


def group_request(row: GroupRequestRow, user: UserRow | None, group: GroupInfo | None) -> GroupRequest:
    """convert.Db2PbGroupRequest; a missing user leaves userInfo null."""
    return GroupRequest(
        userInfo=public_user(user) if user is not None else None,
        groupInfo=group,
        handleResult=row.handle_result,
        reqMsg=row.req_msg,
        handleMsg=row.handled_msg,
        reqTime=row.req_time,
        handleUserID=row.handle_user_id,
        handleTime=row.handled_time,
        ex=row.ex,
        joinSource=row.join_source,
        inviterUserID=row.inviter_user_id,
    )
