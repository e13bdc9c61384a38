"""Notifications: build the MsgData OpenIM's notification sender builds, then push it.

Port of open-im-server pkg/notification/msg.go (NotificationSender.send) with
the default config/notification.yml and pkg/common/config/parse.go
GetOptionsByNotification (openim-v3.md 4.2, 7.3):

* sendID/recvID per feature, sessionType from the content type (1 for every
  friend/user notification), msgFrom 200, clientMsgID and serverMsgID md5-hex,
  createTime/sendTime now (ms);
* content = JSON `{"detail": "<tips JSON>"}` (tips with every field present);
* options start from `isNotNotification:false, senderSync:true`, all others
  false; `isSendMsg` (and with it `unreadCount`) and `offlinePush` come from
  the per-type config; every configurable type is reliability 1: online only,
  seq 0, never stored;
* the message goes to recvID, and to sendID too when senderSync is on and the
  two differ (internal/push: "recvID, plus sendID when senderSync"); a group
  notification (sessionType 3, recvID = groupID) goes to the `members` the
  caller names: the group's members, plus users being removed (1504, 1508);
* a call's `sendMessage` overrides the configured isSendMsg (WithSendMessage),
  and some group types carry the sender's nickname/faceURL (WithRpcGetUserName);
* delivery goes through `msgstore.store_and_push`, the same path as any
  message: a type with isSendMsg (1201) also lands as a normal, stored message
  in the chat conversation, and a reliability-2 type would be stored in n_.

`Pusher` is the one thing this module needs from the message gateway; the
gateway's Hub implements it (and `HubPort`, which the API also uses).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2
from core.protocol.constants import ContentType, MsgFrom, NotificationReliability, SessionType
from core.protocol.constants import GroupContentType as G
from imserver.msgstore import store_and_push
from imserver.services.sdkws import WireModel, go_json_dumps, wire_json

__all__ = [
    "NOTIFICATION_CONFIG",
    "HubPort",
    "NotificationConfig",
    "Notifier",
    "Pusher",
    "md5_msg_id",
]

logger = logging.getLogger(__name__)


class Pusher(Protocol):
    async def push(self, user_ids: Iterable[str], msg: openim_pb2.MsgData, operation_id: str) -> None:
        """Send a 2001 push of `msg` to every online connection of each user."""


class HubPort(Pusher, Protocol):
    """What the HTTP API needs from the gateway's Hub (imserver/gateway/hub.py)."""

    async def kick(self, user_id: str, platform_id: int, except_token: str | None = None) -> None: ...

    def online_platforms(self, user_id: str) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class NotificationConfig:
    """One entry of config/notification.yml; a type without an entry gets the zero config."""

    is_send_msg: bool = False
    offline_push: bool = False
    title: str = ""
    desc: str = ""
    ext: str = ""
    reliability: int = 0


def _cfg(is_send_msg: bool, offline_push: bool, text: str) -> NotificationConfig:
    return NotificationConfig(is_send_msg, offline_push, text, text, text, NotificationReliability.UNRELIABLE)


def _group_cfg(is_send_msg: bool, offline_push: bool, name: str) -> NotificationConfig:
    """Group entries of notification.yml say "<name> title", "<name> desc", "<name> ext"."""
    return NotificationConfig(
        is_send_msg, offline_push, f"{name} title", f"{name} desc", f"{name} ext", NotificationReliability.UNRELIABLE
    )


# open-im-server config/notification.yml (3.8.3-patch) for the types imserver sends.
NOTIFICATION_CONFIG: dict[int, NotificationConfig] = {
    ContentType.FRIEND_APPLICATION: _cfg(False, True, "Somebody applies to add you as a friend"),
    ContentType.FRIEND_APPLICATION_APPROVED: _cfg(True, True, "Someone applies to add your friend application"),
    ContentType.FRIEND_APPLICATION_REJECTED: _cfg(False, True, "Someone rejected your friend application"),
    ContentType.FRIEND_ADDED: _cfg(False, False, "We have become friends"),
    ContentType.FRIEND_DELETED: _cfg(False, False, "deleted a friend"),
    ContentType.FRIEND_REMARK_SET: _cfg(False, False, "Your friend's profile has been changed"),
    ContentType.BLACK_ADDED: _cfg(False, False, "blocked a user"),
    ContentType.BLACK_DELETED: _cfg(False, False, "Remove a blocked user"),
    ContentType.FRIEND_INFO_UPDATED: _cfg(False, False, "friend info updated"),
    # FriendsInfoUpdateNotification uses the friendInfoUpdated entry (msg.go newContentTypeConf).
    ContentType.FRIENDS_INFO_UPDATE: _cfg(False, False, "friend info updated"),
    ContentType.USER_INFO_UPDATED: _cfg(False, False, "userInfo updated"),
    ContentType.CONVERSATION_CHANGE: _cfg(False, False, "conversation changed"),
    ContentType.CONVERSATION_PRIVATE_CHAT: _cfg(True, False, "burn after reading"),
    # Group entries: isSendMsg per openim-v3.md 7.3; offline push only for the three request types.
    G.GROUP_CREATED: _group_cfg(True, False, "create group"),
    G.GROUP_INFO_SET: _group_cfg(False, False, "groupInfoSet"),
    G.JOIN_GROUP_APPLICATION: _group_cfg(False, True, "joinGroupApplication"),
    G.MEMBER_QUIT: _group_cfg(True, False, "memberQuit"),
    G.GROUP_APPLICATION_ACCEPTED: _group_cfg(False, True, "groupApplicationAccepted"),
    G.GROUP_APPLICATION_REJECTED: _group_cfg(False, True, "groupApplicationRejected"),
    G.GROUP_OWNER_TRANSFERRED: _group_cfg(True, False, "groupOwnerTransferred"),
    G.MEMBER_KICKED: _group_cfg(True, False, "memberKicked"),
    G.MEMBER_INVITED: _group_cfg(True, False, "memberInvited"),
    G.MEMBER_ENTER: _group_cfg(True, False, "memberEnter"),
    G.GROUP_DISMISSED: _group_cfg(True, False, "groupDismissed"),
    G.GROUP_MUTED: _group_cfg(True, False, "groupMuted"),
    G.GROUP_CANCEL_MUTED: _group_cfg(True, False, "groupCancelMuted"),
    G.GROUP_MEMBER_MUTED: _group_cfg(True, False, "groupMemberMuted"),
    G.GROUP_MEMBER_CANCEL_MUTED: _group_cfg(True, False, "groupMemberCancelMuted"),
    G.GROUP_MEMBER_INFO_SET: _group_cfg(False, False, "groupMemberInfoSet"),
    # 1517/1518 (groupMemberSetToAdmin / groupMemberSetToOrdinaryUser) have no entry in
    # notification.yml: the zero config, online only with an empty push text.
    G.GROUP_INFO_SET_ANNOUNCEMENT: _group_cfg(True, False, "groupInfoSetAnnouncement"),
    G.GROUP_INFO_SET_NAME: _group_cfg(True, False, "groupInfoSetName"),
    # Hard-coded in msg.go newContentTypeConf: stored in the n_ conversation, pullable.
    ContentType.MSG_REVOKE: NotificationConfig(reliability=NotificationReliability.RELIABLE_NO_MSG),
    ContentType.HAS_READ_RECEIPT: NotificationConfig(reliability=NotificationReliability.RELIABLE_NO_MSG),
    ContentType.DELETE_MSGS: NotificationConfig(reliability=NotificationReliability.RELIABLE_NO_MSG),
}


def md5_msg_id(send_id: str) -> str:
    """tools utils/idutil.GetMsgIDByMD5: md5 hex of (now ns + sendID + random)."""
    seed = f"{time.time_ns()}{send_id}{secrets.randbelow(1 << 62)}"
    return hashlib.md5(seed.encode()).hexdigest()


def _options(config: NotificationConfig, send_message: bool | None = None) -> dict[str, bool]:
    options = {
        "isNotNotification": False,
        "isSendMsg": False,
        "history": False,
        "persistent": False,
        "offlinePush": False,
        "unreadCount": False,
        "conversationUpdate": False,
        "senderSync": True,
        "notPrivate": False,
        "senderConversationUpdate": False,
        "reactionFromCache": False,
    }
    is_send_msg = config.is_send_msg if send_message is None else send_message
    if is_send_msg:
        options["unreadCount"] = True
    if config.offline_push:
        options["offlinePush"] = True
    if config.reliability == NotificationReliability.RELIABLE_NO_MSG:
        options["history"] = options["persistent"] = True
    options["isSendMsg"] = is_send_msg
    return options


class Notifier:
    def __init__(
        self, pusher: Pusher, sessionmaker: async_sessionmaker[AsyncSession], now_ms: Callable[[], int]
    ) -> None:
        self._pusher = pusher
        self._sessionmaker = sessionmaker
        self._now_ms = now_ms

    def build(
        self,
        send_id: str,
        recv_id: str,
        content_type: int,
        tips: WireModel,
        session_type: int = SessionType.SINGLE,
        *,
        send_message: bool | None = None,
        sender_nickname: str = "",
        sender_face_url: str = "",
    ) -> openim_pb2.MsgData:
        config = NOTIFICATION_CONFIG.get(content_type, NotificationConfig())
        if send_id == recv_id and content_type == ContentType.HAS_READ_RECEIPT:
            # msg.go send: a read receipt to oneself is only for the user's other devices.
            config = NotificationConfig(reliability=NotificationReliability.UNRELIABLE)
        now = self._now_ms()
        msg = openim_pb2.MsgData(
            sendID=send_id,
            recvID=recv_id,
            groupID=recv_id if session_type == SessionType.READ_GROUP else "",
            clientMsgID=md5_msg_id(send_id),
            serverMsgID=md5_msg_id(send_id),
            senderNickname=sender_nickname,
            senderFaceURL=sender_face_url,
            sessionType=session_type,
            msgFrom=MsgFrom.SYSTEM,
            contentType=content_type,
            content=go_json_dumps({"detail": wire_json(tips)}).encode(),
            sendTime=now,
            createTime=now,
            offlinePushInfo=openim_pb2.OfflinePushInfo(title=config.title, desc=config.desc, ex=config.ext),
        )
        msg.options.update(_options(config, send_message))
        return msg

    async def send(
        self,
        operation_id: str,
        send_id: str,
        recv_id: str,
        content_type: int,
        tips: WireModel,
        session_type: int = SessionType.SINGLE,
        *,
        members: Sequence[str] | None = None,
        send_message: bool | None = None,
        sender_nickname: str = "",
        sender_face_url: str = "",
    ) -> openim_pb2.MsgData:
        """Build, store if reliable, and push one notification; failures are logged, never raised.

        OpenIM sends notifications from a queue after the RPC succeeded, so a
        failed delivery never fails the call that caused it. `members` are the
        recipients of a group notification (required for sessionType 3).
        """
        msg = self.build(
            send_id,
            recv_id,
            content_type,
            tips,
            session_type,
            send_message=send_message,
            sender_nickname=sender_nickname,
            sender_face_url=sender_face_url,
        )
        try:
            await store_and_push(self._sessionmaker, self._pusher, msg, operation_id, self._now_ms(), members)
        except Exception:
            logger.exception(
                "notification delivery failed",
                extra={"operationID": operation_id, "contentType": content_type, "recvID": recv_id},
            )
        return msg
