"""Every event a session's stream, poll and webhook can carry, with its payload type.

Read from where core emits them (core/modules/friend.py, group.py, message.py,
conversation.py, user.py, core/core.py) and where the bridge adds its own
(callResult: bridge/calls.py, sessionClosed: bridge/session_close.py, reset
and streamEnd: bridge/sse.py, bridge/stream_limit.py). The OpenAPI document
describes each one as a 3.1 `webhooks` entry (bridge/openapi_spec.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.events import ADVANCED_MSG, CONN, CONVERSATION, CUSTOM_BUSINESS, FRIENDSHIP, USER
from core.models import (
    LocalBlack,
    LocalConversation,
    LocalFriend,
    LocalFriendRequest,
    LocalGroup,
    LocalGroupMember,
    LocalGroupRequest,
    LocalUser,
)
from core.msgstruct import MsgStruct

__all__ = ["BRIDGE", "EVENTS", "EventSpec"]

GROUP = "OnGroupListener"
BRIDGE = "bridge"  # events the bridge itself adds


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    listener: str
    payload: Any  # a type for pydantic's TypeAdapter, or a JSON schema dict
    summary: str


_NULL: dict[str, Any] = {"type": "null"}
_RECEIPT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "groupID": {"type": "string"},
        "userID": {"type": "string", "description": "Who read"},
        "msgIDList": {"type": "array", "items": {"type": "string"}, "description": "clientMsgIDs now read"},
        "readTime": {"type": "integer"},
        "msgFrom": {"type": "integer"},
        "contentType": {"type": "integer"},
        "sessionType": {"type": "integer"},
    },
}
_REVOKED: dict[str, Any] = {
    "type": "object",
    "description": "OpenIM's MessageRevoked: who revoked which message",
    "properties": {
        "revokerID": {"type": "string"},
        "revokerRole": {"type": "integer"},
        "clientMsgID": {"type": "string"},
        "revokerNickname": {"type": "string"},
        "revokeTime": {"type": "integer"},
        "sourceMessageSendTime": {"type": "integer"},
        "sourceMessageSendID": {"type": "string"},
        "sourceMessageSenderNickname": {"type": "string"},
        "sessionType": {"type": "integer"},
        "seq": {"type": "integer"},
        "ex": {"type": "string"},
        "isAdminRevoke": {"type": "boolean"},
    },
}
_CALL_RESULT: dict[str, Any] = {
    "type": "object",
    "description": "The outcome of a `Prefer: respond-async` call (errCode 0: success, data is the 200 result)",
    "required": ["operationID", "function", "errCode", "errMsg"],
    "properties": {
        "operationID": {"type": "string"},
        "function": {"type": "string", "description": "SDK function name, e.g. AddFriend"},
        "errCode": {"type": "integer"},
        "errMsg": {"type": "string"},
        "data": {},
        "detail": {"type": "string"},
        "status": {"type": "integer", "description": "The HTTP status the synchronous call would have answered"},
    },
}
_CURSOR: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "lastEventId": {"type": "integer"}},
}
_CLOSED: dict[str, Any] = {
    "type": "object",
    "description": "Why the session ended (errCode: 0 logout, 1506 kicked, 1501 token expired, ...)",
    "required": ["reason", "errCode"],
    "properties": {"reason": {"type": "string"}, "errCode": {"type": "integer"}, "operationID": {"type": "string"}},
}


def _events() -> tuple[EventSpec, ...]:
    out: list[EventSpec] = []

    def add(listener: str, payload: Any, summary: str, *names: str) -> None:
        out.extend(EventSpec(n, listener, payload, summary) for n in names)

    add(CONN, _NULL, "Connecting to / connected with the OpenIM gateway", "OnConnecting", "OnConnectSuccess")
    add(
        CONN,
        {"type": ["object", "null"], "properties": {"errCode": {"type": "integer"}, "errMsg": {"type": "string"}}},
        "The gateway connection failed (it is retried)",
        "OnConnectFailed",
    )
    add(CONN, _NULL, "Another login of this user and platform ended this session", "OnKickedOffline")
    add(CONN, _NULL, "The OpenIM token expired: the session ended", "OnUserTokenExpired")
    add(CONN, {"type": ["string", "null"]}, "The OpenIM token was revoked: the session ended", "OnUserTokenInvalid")
    add(USER, LocalUser, "The user's own profile changed", "OnSelfInfoUpdated")
    add(FRIENDSHIP, LocalFriend, "A friend was added, removed or changed", *_triple("OnFriend", "Added", "Deleted"))
    add(FRIENDSHIP, LocalBlack, "Someone was added to or removed from the blacklist", "OnBlackAdded", "OnBlackDeleted")
    add(
        FRIENDSHIP,
        LocalFriendRequest,
        "A friend request (sent or received) was added, accepted, rejected or deleted",
        *(f"OnFriendApplication{s}" for s in ("Added", "Accepted", "Rejected", "Deleted")),
    )
    add(GROUP, LocalGroup, "A joined group was added, left, changed or dismissed",
        "OnJoinedGroupAdded", "OnJoinedGroupDeleted", "OnGroupInfoChanged", "OnGroupDismissed")  # fmt: skip
    add(GROUP, LocalGroupMember, "A group member joined, left or changed",
        "OnGroupMemberAdded", "OnGroupMemberDeleted", "OnGroupMemberInfoChanged")  # fmt: skip
    add(
        GROUP,
        LocalGroupRequest,
        "A group join request was added, accepted, rejected or deleted",
        *(f"OnGroupApplication{s}" for s in ("Added", "Accepted", "Rejected", "Deleted")),
    )
    add(ADVANCED_MSG, MsgStruct, "A new message (one at a time unless batchMessages)", "OnRecvNewMessage")
    add(ADVANCED_MSG, list[MsgStruct], "New messages, as a list (login with batchMessages)", "OnRecvNewMessages")
    add(ADVANCED_MSG, MsgStruct, "An online-only message (typing, ...)", "OnRecvOnlineOnlyMessage")
    add(ADVANCED_MSG, _REVOKED, "A message was revoked", "OnNewRecvMessageRevoked")
    add(ADVANCED_MSG, {"type": "array", "items": _RECEIPT}, "The peer read messages", "OnRecvC2CReadReceipt")
    add(CONVERSATION, list[LocalConversation], "Conversations appeared or changed",
        "OnNewConversation", "OnConversationChanged")  # fmt: skip
    add(CONVERSATION, {"type": "integer"}, "The total unread count changed", "OnTotalUnreadMessageCountChanged")
    add(
        CONVERSATION,
        {"type": "boolean", "description": "True when local state was rebuilt (re-fetch lists)"},
        "Login sync with the server started, finished or failed",
        "OnSyncServerStart",
        "OnSyncServerFinish",
        "OnSyncServerFailed",
    )
    add(CUSTOM_BUSINESS, {"type": "string"}, "A business notification's detail", "OnRecvCustomBusinessMessage")
    add(BRIDGE, _CALL_RESULT, "The outcome of an async call", "callResult")
    add(BRIDGE, _CLOSED, "The session ended; the last event of its stream", "sessionClosed")
    add(BRIDGE, _CURSOR, "Events after lastEventId were dropped by retention: re-fetch state", "reset")
    add(BRIDGE, _CURSOR, "A ?maxSeconds= stream ended: reconnect with lastEventId", "streamEnd")
    return tuple(out)


def _triple(prefix: str, added: str, deleted: str) -> tuple[str, str, str]:
    return f"{prefix}{added}", f"{prefix}{deleted}", f"{prefix}InfoChanged"


EVENTS: tuple[EventSpec, ...] = _events()
