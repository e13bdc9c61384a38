"""WS 1003 SendMsg: fill in, verify, store, then push (openim-v3.md 7.1).

open-im-server internal/rpc/msg/send.go (SendMsg per sessionType), verify.go
(encapsulateMsgData, messageVerification, GetMsgID) and msgtransfer (seq and
storage, via `imserver.msgstore.route_and_store`). The push runs after the answer
is queued, as OpenIM answers once the message is on its queue.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ContentType, SessionType
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.msgstore import Delivery, Pusher, push_deliveries, route_and_store
from imserver.settings import ImServerSettings

__all__ = ["IsBlocked", "SendOutcome", "encapsulate", "never_blocked", "new_server_msg_id", "send_message"]

IsBlocked = Callable[[str, str], Awaitable[bool]]
"""is_blocked(owner, other): has `owner` blacklisted `other`?"""

_REVOKE_LEGACY = 111  # constant.Revoke

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
    _REVOKE_LEGACY: ("unreadCount", "offlinePush"),
}


async def never_blocked(owner: str, other: str) -> bool:
    return False


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

    async def push(self, pusher: Pusher, operation_id: str) -> None:
        await push_deliveries(pusher, self.deliveries, operation_id)


async def send_message(
    msg: pb.MsgData,
    *,
    sender: str,
    settings: ImServerSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    is_blocked: IsBlocked,
) -> SendOutcome:
    """Accept one message from `sender`; a resent clientMsgID answers the first result."""
    if msg.sendID != sender and sender not in settings.admin_user_ids:
        raise ImError(ErrCode.NoPermissionError, f"sendID {msg.sendID} is not the connection's user {sender}")
    match msg.sessionType:
        case SessionType.SINGLE | SessionType.NOTIFICATION:
            if not msg.recvID:
                raise ImError(ErrCode.ArgsError, "recvID is empty")
        case SessionType.READ_GROUP:
            raise ImError(ErrCode.GroupTypeNotSupport, "group messages are not supported yet")
        case _:
            raise ImError(ErrCode.ArgsError, "unknown sessionType")
    encapsulate(msg, settings)
    if msg.sessionType == SessionType.SINGLE:
        await _verify(msg, settings, is_blocked)
    deliveries = await route_and_store(sessionmaker, msg, settings.now_ms())
    first = deliveries[0].msg
    resp = pb.SendMsgResp(serverMsgID=first.serverMsgID, clientMsgID=first.clientMsgID, sendTime=first.sendTime)
    return SendOutcome(resp, deliveries)
