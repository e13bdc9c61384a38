"""Rows -> sdkws shapes, with OpenIM's own quirks kept (pkg/common/convert/*.go).

* UserInfo.createTime is milliseconds (convert.UserDB2Pb).
* FriendInfo from list/sync routes has createTime in SECONDS and a friendUser
  holding only userID/nickname/faceURL/ex (convert.FriendsDB2Pb).
* BlackInfo from get_black_list has createTime in seconds (convert.BlackDB2Pb);
  get_specified_blacks / get_specified_friends_info use milliseconds.
* FriendRequest times are milliseconds; an unhandled request has handleTime 0
  (time.Unix(0, 0).UnixMilli()).
"""

from __future__ import annotations

from collections.abc import Mapping

from imserver.models import BlackRow, FriendRequestRow, FriendRow, UserRow
from imserver.services.sdkws import BlackInfo, FriendInfo, FriendRequest, PublicUserInfo, UserInfo

__all__ = ["black_info", "friend_info", "friend_request", "public_user", "user_info"]


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
