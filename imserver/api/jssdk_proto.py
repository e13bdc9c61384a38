"""Protobuf forms of the /jssdk/* messages (openimsdk/protocol jssdk/jssdk.proto).

`/jssdk/get_active_conversations` and `/jssdk/get_conversations` speak JSON or,
with `Content-Type: application/(x-)protobuf`, protobuf: the body is the
binary request and the envelope's `data` is the binary response (Go []byte,
so base64 in JSON) — open-im-server internal/api/jssdk/tools.go `call`.
@openim/client-sdk 0.0.14 uses the protobuf form.

The messages are declared here as descriptors in a private pool (wire
compatible with jssdk.proto, conversation.proto, relation.proto and
sdkws.proto; field names and numbers copied from there), reusing
openim.sdkws.MsgData from core/protocol/openim.proto.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from core.protocol import openim_pb2
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.services.jssdk import ConversationMsg

__all__ = ["decode_request", "encode_response"]

_F = descriptor_pb2.FieldDescriptorProto
_STR, _I32, _I64, _BOOL, _MSG = _F.TYPE_STRING, _F.TYPE_INT32, _F.TYPE_INT64, _F.TYPE_BOOL, _F.TYPE_MESSAGE
_U32 = _F.TYPE_UINT32

_MESSAGES: dict[str, list[tuple[str, int, int] | tuple[str, int, int, str] | tuple[str, int, int, str, bool]]] = {
    "UserInfo": [
        ("userID", 1, _STR), ("nickname", 2, _STR), ("faceURL", 3, _STR), ("ex", 4, _STR),
        ("createTime", 5, _I64), ("appMangerLevel", 6, _I32), ("globalRecvMsgOpt", 7, _I32),
    ],
    "FriendInfoOnly": [
        ("ownerUserID", 1, _STR), ("friendUserID", 2, _STR), ("remark", 3, _STR), ("createTime", 4, _I64),
        ("addSource", 5, _I32), ("operatorUserID", 6, _STR), ("ex", 7, _STR), ("isPinned", 8, _BOOL),
    ],
    "GroupInfo": [
        ("groupID", 1, _STR), ("groupName", 2, _STR), ("notification", 3, _STR), ("introduction", 4, _STR),
        ("faceURL", 5, _STR), ("ownerUserID", 6, _STR), ("createTime", 7, _I64), ("memberCount", 8, _U32),
        ("ex", 9, _STR), ("status", 10, _I32), ("creatorUserID", 11, _STR), ("groupType", 12, _I32),
        ("needVerification", 13, _I32), ("lookMemberInfo", 14, _I32), ("applyMemberFriend", 15, _I32),
        ("notificationUpdateTime", 16, _I64), ("notificationUserID", 17, _STR),
    ],
    "Conversation": [
        ("ownerUserID", 1, _STR), ("conversationID", 2, _STR), ("recvMsgOpt", 3, _I32),
        ("conversationType", 4, _I32), ("userID", 5, _STR), ("groupID", 6, _STR), ("isPinned", 7, _BOOL),
        ("attachedInfo", 8, _STR), ("isPrivateChat", 9, _BOOL), ("groupAtType", 10, _I32), ("ex", 11, _STR),
        ("burnDuration", 12, _I32), ("minSeq", 13, _I64), ("maxSeq", 14, _I64), ("msgDestructTime", 15, _I64),
        ("latestMsgDestructTime", 16, _I64), ("isMsgDestruct", 17, _BOOL),
    ],
    "ConversationMsg": [
        ("conversation", 1, _MSG, ".openim.jssdk.Conversation"), ("lastMsg", 2, _MSG, ".openim.sdkws.MsgData"),
        ("user", 3, _MSG, ".openim.jssdk.UserInfo"), ("friend", 4, _MSG, ".openim.jssdk.FriendInfoOnly"),
        ("group", 5, _MSG, ".openim.jssdk.GroupInfo"), ("maxSeq", 6, _I64), ("readSeq", 7, _I64),
    ],
    "GetActiveConversationsReq": [("ownerUserID", 1, _STR), ("count", 2, _I64)],
    "GetConversationsReq": [("ownerUserID", 1, _STR), ("conversationIDs", 2, _STR, "", True)],
    "ConversationsResp": [
        ("unreadCount", 1, _I64), ("conversations", 2, _MSG, ".openim.jssdk.ConversationMsg", True),
    ],
}  # fmt: skip


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(openim_pb2.DESCRIPTOR.serialized_pb))
    file = descriptor_pb2.FileDescriptorProto(
        name="imserver/jssdk.proto", package="openim.jssdk", syntax="proto3", dependency=["openim.proto"]
    )
    for name, fields in _MESSAGES.items():
        message = file.message_type.add(name=name)
        for spec in fields:
            field_name, number, kind = spec[0], spec[1], spec[2]
            type_name = spec[3] if len(spec) > 3 else ""
            repeated = len(spec) > 4 and bool(spec[4])
            field = message.field.add(
                name=field_name,
                json_name=field_name,
                number=number,
                type=kind,
                label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
            )
            if type_name:
                field.type_name = str(type_name)
    pool.Add(file)
    return pool


_POOL = _build_pool()


def _cls(name: str) -> type[Message]:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"openim.jssdk.{name}"))


_REQUESTS = {
    "get_active_conversations": _cls("GetActiveConversationsReq"),
    "get_conversations": _cls("GetConversationsReq"),
}
_RESPONSE = _cls("ConversationsResp")
_MSG_DATA = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("openim.sdkws.MsgData"))


def decode_request(route: str, body: bytes) -> dict[str, Any]:
    """The request fields of a protobuf body, as the JSON form would carry them."""
    message = _REQUESTS[route]()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise ImError(ErrCode.ArgsError, f"invalid protobuf body: {exc}") from exc
    return {f.name: (list(v) if f.is_repeated else v) for f, v in message.ListFields()}


def encode_response(unread_count: int, items: Sequence[ConversationMsg]) -> bytes:
    """jssdk.GetActiveConversationsResp / GetConversationsResp (same fields) as protobuf bytes."""
    response = _RESPONSE()
    response.unreadCount = unread_count  # type: ignore[attr-defined]
    for item in items:
        entry = response.conversations.add()  # type: ignore[attr-defined]
        values = (
            ("conversation", item.conversation),
            ("user", item.user),
            ("friend", item.friend),
            ("group", item.group),
        )
        for key, value in values:
            if value is not None:
                getattr(entry, key).CopyFrom(type(getattr(entry, key))(**value.model_dump()))
        entry.lastMsg.CopyFrom(_MSG_DATA.FromString(item.last_msg.SerializeToString()))
        entry.maxSeq, entry.readSeq = item.max_seq, item.read_seq
    return response.SerializeToString()
