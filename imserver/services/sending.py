"""WS 1003 SendMsg: fill in, verify, store, then push (openim-v3.md 7.1).

open-im-server internal/rpc/msg/send.go (SendMsg per sessionType), verify.go
(encapsulateMsgData, messageVerification, GetMsgID) and msgtransfer (seq and
storage, via `imserver.msgstore.route_and_store`). The push runs after the answer
is queued, as OpenIM answers once the message is on its queue.

Group messages (sessionType 3) ask the `GroupChat` port who may send and who
receives (verify.go), and let it store @-mentions before the push and notify
them after it (send.go setConversationAtInfo, which OpenIM starts right after
queueing, well before the push comes out of msgtransfer). A gateway started
without groups answers them 1205 GroupTypeNotSupport.

The gateway's 1003 handler and /msg/send_msg both run it, as both reach
OpenIM's msg RPC; it is a service, so services never import the gateway: the
push goes out through the `Pusher` the gateway's Hub is wired in as
(imserver/server.py).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ContentType, SessionType
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.msgstore import Delivery, Pusher, push_deliveries, route_and_store
from imserver.settings import ImServerSettings

__all__ = [
    "NO_GROUP_CHAT",
    "GroupChat",
    "IsBlocked",
    "SendOutcome",
    "encapsulate",
    "never_blocked",
    "new_server_msg_id",
    "send_message",
]

IsBlocked = Callable[[str, str], Awaitable[bool]]
"""is_blocked(owner, other): has `owner` blacklisted `other`?"""


# encapsulateMsgData: options switched off per content type.
_OFF: dict[int, tuple[str, ...]] = {
    ContentType.TYPING: (
        "history",
        "persistent",
        "senderSync",
        "conversationUpdate",
        "senderConversationUpdate",
        "unreadCount",
        "offlinePush",
    ),
    ContentType.HAS_READ_RECEIPT: (
        "conversationUpdate",
        "senderConversationUpdate",
        "unreadCount",
        "offlinePush",
    ),
    ContentType.REVOKE: ("unreadCount", "offlinePush"),
}


async def never_blocked(owner: str, other: str) -> bool:
    return False


class GroupChat(Protocol):
    """What sending needs from the groups (imserver.services.group_chat.GroupChatService)."""

    async def recipients(self, msg: pb.MsgData) -> list[str]:
        """Verify the sender of a group message; answer the group's current members."""

    async def mark_mentions(self, msg: pb.MsgData, operation_id: str) -> Callable[[], Awaitable[None]]:
        """Store the @-mentions' groupAtType (before the push); answer what notifies them (after)."""

    async def member_ids(self, group_id: str) -> list[str]: ...

    async def member_roles(self, group_id: str, user_ids: Sequence[str]) -> dict[str, int]: ...


class _NoGroupChat:
    async def recipients(self, msg: pb.MsgData) -> list[str]:
        raise ImError(ErrCode.GroupTypeNotSupport, "this gateway has no groups")

    async def mark_mentions(self, msg: pb.MsgData, operation_id: str) -> Callable[[], Awaitable[None]]:
        return _nothing

    async def member_ids(self, group_id: str) -> list[str]:
        return []

    async def member_roles(self, group_id: str, user_ids: Sequence[str]) -> dict[str, int]:
        return {}


async def _nothing() -> None:
    return None


NO_GROUP_CHAT: GroupChat = _NoGroupChat()


def new_server_msg_id(send_id: str, now: float) -> str:
    """GetMsgID: md5 hex of "<time>-<sendID>-<random>"."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    return hashlib.md5(f"{stamp}-{send_id}-{random.getrandbits(63)}".encode()).hexdigest()


def encapsulate(msg: pb.MsgData, settings: ImServerSettings) -> None:
    """serverMsgID, sendTime when 0, and the per-content-type option overrides."""
    msg.serverMsgID = new_server_msg_id(msg.sendID, settings.clock())
    if msg.sendTime == 0:
        msg.sendTime = settings.now_ms()
    for key in _OFF.get(msg.contentType, ()):
        msg.options[key] = False


def _is_notification_type(content_type: int) -> bool:
    return ContentType.NOTIFICATION_BEGIN <= content_type <= ContentType.NOTIFICATION_END


async def _verify(msg: pb.MsgData, settings: ImServerSettings, is_blocked: IsBlocked) -> None:
    """messageVerification for single chat: admins and notification types pass; a
    recipient who blacklisted the sender refuses (1302). friendVerify is off by default."""
    if msg.sendID in settings.admin_user_ids or _is_notification_type(msg.contentType):
        return
    if await is_blocked(msg.recvID, msg.sendID):
        raise ImError(ErrCode.BlockedByPeer)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    resp: pb.SendMsgResp
    deliveries: list[Delivery]
    mentions: Callable[[str], Awaitable[Callable[[], Awaitable[None]]]] | None = None

    async def push(self, pusher: Pusher, operation_id: str) -> None:
        # send.go starts setConversationAtInfo right after MsgToMQ, while the message still
        # has Kafka, msgtransfer and the push service ahead of it: the @ mark is stored
        # first, its own notifications (also through the queue) come after the message.
        notify = None if self.mentions is None else await self.mentions(operation_id)
        await push_deliveries(pusher, self.deliveries, operation_id)
        if notify is not None:
            await notify()


async def send_message(
    msg: pb.MsgData,
    *,
    sender: str,
    settings: ImServerSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    is_blocked: IsBlocked,
    group_chat: GroupChat = NO_GROUP_CHAT,
) -> SendOutcome:
    """Accept one message from `sender`; a resent clientMsgID answers the first result."""
    if msg.sendID != sender and sender not in settings.admin_user_ids:
        raise ImError(ErrCode.NoPermissionError, f"sendID {msg.sendID} is not the connection's user {sender}")
    match msg.sessionType:
        case SessionType.SINGLE | SessionType.NOTIFICATION:
            if not msg.recvID:
                raise ImError(ErrCode.ArgsError, "recvID is empty")
        case SessionType.READ_GROUP:
            if not msg.groupID:
                raise ImError(ErrCode.ArgsError, "groupID is empty")
        case _:
            raise ImError(ErrCode.ArgsError, "unknown sessionType")
    encapsulate(msg, settings)
    members: list[str] | None = None
    if msg.sessionType == SessionType.SINGLE:
        await _verify(msg, settings, is_blocked)
    elif msg.sessionType == SessionType.READ_GROUP:
        members = await group_chat.recipients(msg)
    deliveries = await route_and_store(sessionmaker, msg, settings.now_ms(), members)
    first = deliveries[0]
    resp = pb.SendMsgResp(
        serverMsgID=first.msg.serverMsgID, clientMsgID=first.msg.clientMsgID, sendTime=first.msg.sendTime
    )
    mentions = None
    if members is not None and not first.duplicate:
        mentions = partial(group_chat.mark_mentions, first.msg)
    return SendOutcome(resp, deliveries, mentions)
