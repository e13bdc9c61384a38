"""MsgStruct: the OpenIM SDK's message JSON (openim-sdk-core sdk_struct.go; openim-v3.md 5.8).

Converts between the wire `MsgData` (content = the elem's JSON bytes) and the
MsgStruct that clients see, where the content sits in a typed elem field
(`textElem`, `pictureElem`, ...). Only the elem matching `contentType` is set.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.protocol.constants import ContentType, MsgFrom, MsgStatus
from core.protocol.openim_pb2 import MsgData, OfflinePushInfo
from core.untrusted import load_json

__all__ = ["ELEM_FIELDS", "MAX_CONTENT_DEPTH", "MsgStruct", "from_msgdata", "to_msgdata"]

# Nesting allowed in a received content: a merged message of quoted messages is
# about 10 levels deep; past this the content is shown raw, not parsed.
MAX_CONTENT_DEPTH = 64

# contentType -> the MsgStruct field that carries its content.
ELEM_FIELDS: dict[int, str] = {
    ContentType.TEXT: "textElem",
    ContentType.PICTURE: "pictureElem",
    ContentType.VOICE: "soundElem",
    ContentType.VIDEO: "videoElem",
    ContentType.FILE: "fileElem",
    ContentType.AT_TEXT: "atTextElem",
    ContentType.MERGER: "mergeElem",
    ContentType.CARD: "cardElem",
    ContentType.LOCATION: "locationElem",
    ContentType.CUSTOM: "customElem",
    ContentType.TYPING: "typingElem",
    ContentType.QUOTE: "quoteElem",
    ContentType.FACE: "faceElem",
    ContentType.ADVANCED_TEXT: "advancedTextElem",
}


class MsgStruct(BaseModel):
    """One message as the SDK presents it; unknown keys are kept (forward compatible)."""

    model_config = ConfigDict(extra="allow")

    clientMsgID: str = ""
    serverMsgID: str = ""
    createTime: int = 0
    sendTime: int = 0
    sessionType: int = 0
    sendID: str = ""
    recvID: str = ""
    msgFrom: int = MsgFrom.USER
    contentType: int = 0
    senderPlatformID: int = 0
    senderNickname: str = ""
    senderFaceUrl: str = ""
    groupID: str = ""
    content: str = ""
    seq: int = 0
    isRead: bool = False
    status: int = 1
    offlinePush: dict[str, Any] | None = None
    attachedInfo: str = ""
    ex: str = ""
    localEx: str = ""
    textElem: dict[str, Any] | None = None
    cardElem: dict[str, Any] | None = None
    pictureElem: dict[str, Any] | None = None
    soundElem: dict[str, Any] | None = None
    videoElem: dict[str, Any] | None = None
    fileElem: dict[str, Any] | None = None
    mergeElem: dict[str, Any] | None = None
    atTextElem: dict[str, Any] | None = None
    faceElem: dict[str, Any] | None = None
    locationElem: dict[str, Any] | None = None
    customElem: dict[str, Any] | None = None
    quoteElem: dict[str, Any] | None = None
    notificationElem: dict[str, Any] | None = None
    advancedTextElem: dict[str, Any] | None = None
    typingElem: dict[str, Any] | None = None
    attachedInfoElem: dict[str, Any] | None = None

    def elem(self) -> dict[str, Any] | None:
        name = ELEM_FIELDS.get(self.contentType)
        if name is None:
            return self.notificationElem
        value = getattr(self, name)
        return value if isinstance(value, dict) else None

    def out(self) -> dict[str, Any]:
        """JSON for clients: empty elems and empty optional strings left out, as the SDK does."""
        data = self.model_dump(exclude_none=True)
        for key in (
            "serverMsgID",
            "groupID",
            "content",
            "senderNickname",
            "senderFaceUrl",
            "attachedInfo",
            "ex",
            "localEx",
        ):
            if data.get(key) == "":
                del data[key]
        return data


def from_msgdata(m: MsgData) -> MsgStruct:
    """A received MsgData as MsgStruct: content parsed into its elem (status 2 = sent)."""
    msg = MsgStruct(
        clientMsgID=m.clientMsgID,
        serverMsgID=m.serverMsgID,
        createTime=m.createTime,
        sendTime=m.sendTime,
        sessionType=m.sessionType,
        sendID=m.sendID,
        recvID=m.recvID,
        msgFrom=m.msgFrom,
        contentType=m.contentType,
        senderPlatformID=m.senderPlatformID,
        senderNickname=m.senderNickname,
        senderFaceUrl=m.senderFaceURL,
        groupID=m.groupID,
        seq=m.seq,
        isRead=m.isRead,
        status=MsgStatus.SEND_SUCCESS if m.status in (0, MsgStatus.SENDING, MsgStatus.SEND_SUCCESS) else m.status,
        attachedInfo=m.attachedInfo,
        ex=m.ex,
    )
    # Any peer writes `content` (issue 10): parsed as far as it parses, like the
    # Go SDK, which logs "Parsing data error" and shows the message anyway
    # (openim-sdk-core internal/conversation_msg msgHandleByContentType).
    raw = m.content.decode("utf-8", "replace")
    try:
        content = load_json(raw, MAX_CONTENT_DEPTH) if raw else None
    except ValueError:
        content = None
    name = ELEM_FIELDS.get(m.contentType)
    if isinstance(content, dict):
        if name is not None:
            setattr(msg, name, content)
        elif m.contentType >= ContentType.NOTIFICATION_BEGIN:
            msg.notificationElem = content
        else:
            msg.content = raw
    elif raw:
        msg.content = raw
    if m.HasField("offlinePushInfo"):
        p = m.offlinePushInfo
        msg.offlinePush = {
            "title": p.title,
            "desc": p.desc,
            "ex": p.ex,
            "iOSPushSound": p.iOSPushSound,
            "iOSBadgeCount": p.iOSBadgeCount,
        }
    return msg


def _elem_json(elem: Any) -> bytes:
    """Compact JSON with non-ASCII as UTF-8, as Go's json.Marshal writes it (openim-sdk-core
    pkg/utils StructToJsonString): a CJK character is 3 bytes instead of a 6-byte \\u escape.
    A lone surrogate has no UTF-8 form, so such an elem keeps the escapes."""
    try:
        return json.dumps(elem, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(elem, separators=(",", ":")).encode()


def to_msgdata(msg: MsgStruct, options: dict[str, bool] | None = None) -> MsgData:
    """The MsgData to send for a MsgStruct (content = the elem's JSON)."""
    elem = msg.elem()
    content = _elem_json(elem) if elem is not None else msg.content.encode()
    data = MsgData(
        sendID=msg.sendID,
        recvID=msg.recvID,
        groupID=msg.groupID,
        clientMsgID=msg.clientMsgID,
        senderPlatformID=msg.senderPlatformID,
        senderNickname=msg.senderNickname,
        senderFaceURL=msg.senderFaceUrl,
        sessionType=msg.sessionType,
        msgFrom=msg.msgFrom,
        contentType=msg.contentType,
        content=content,
        createTime=msg.createTime,
        status=MsgStatus.SENDING,
        attachedInfo=msg.attachedInfo,
        ex=msg.ex,
    )
    if msg.contentType == ContentType.AT_TEXT and msg.atTextElem:
        data.atUserIDList.extend(str(u) for u in msg.atTextElem.get("atUserList") or [])
    if msg.offlinePush:
        p = msg.offlinePush
        data.offlinePushInfo.CopyFrom(
            OfflinePushInfo(title=str(p.get("title", "")), desc=str(p.get("desc", "")), ex=str(p.get("ex", "")))
        )
    for key, value in (options or {}).items():
        data.options[key] = value
    return data
