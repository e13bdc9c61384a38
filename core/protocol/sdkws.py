"""openim.sdkws entity shapes, as OpenIM's JSON shows them: one home for core/ and imserver/.

OpenIM encodes the protoc-generated structs with Go `encoding/json` after
stripping every `omitempty` (openimsdk/protocol gen.sh): every field is present,
nil messages and nil repeated fields are `null`, int64 are plain numbers, keys
are the .proto field names. Fields below are in .proto order (openimsdk/protocol
sdkws/sdkws.proto at v0.0.73-alpha.12; openim-v3.md 3.3, 3.4).

imserver builds answers from them; core reads the server's answers into them
with `read_wire`, which decodes as the Go SDK's `json.Unmarshal` into these
structs does (openim-sdk-core pkg/network/http_client.go ApiPost): a missing
field or a `null` is the zero value, an unknown key is ignored, a wrong JSON
type fails the answer (no string read as a number: OpenIM never sends one so).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "BlackInfo",
    "FriendInfo",
    "FriendRequest",
    "GroupInfo",
    "GroupMemberFullInfo",
    "GroupRequest",
    "PublicUserInfo",
    "UserInfo",
    "WireModel",
    "WireTypeError",
    "read_wire",
]


class WireModel(BaseModel):
    """A protobuf message as OpenIM's JSON shows it (field names = .proto names)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class UserInfo(WireModel):
    userID: str = ""
    nickname: str = ""
    faceURL: str = ""
    ex: str = ""
    createTime: int = 0
    appMangerLevel: int = 0
    globalRecvMsgOpt: int = 0


class PublicUserInfo(WireModel):
    userID: str = ""
    nickname: str = ""
    faceURL: str = ""
    ex: str = ""


class FriendInfo(WireModel):
    ownerUserID: str = ""
    remark: str = ""
    createTime: int = 0
    friendUser: UserInfo | None = None
    addSource: int = 0
    operatorUserID: str = ""
    ex: str = ""
    isPinned: bool = False


class BlackInfo(WireModel):
    ownerUserID: str = ""
    createTime: int = 0
    blackUserInfo: PublicUserInfo | None = None
    addSource: int = 0
    operatorUserID: str = ""
    ex: str = ""


class FriendRequest(WireModel):
    fromUserID: str = ""
    fromNickname: str = ""
    fromFaceURL: str = ""
    toUserID: str = ""
    toNickname: str = ""
    toFaceURL: str = ""
    handleResult: int = 0
    reqMsg: str = ""
    createTime: int = 0
    handlerUserID: str = ""
    handleMsg: str = ""
    handleTime: int = 0
    ex: str = ""


class GroupInfo(WireModel):
    groupID: str = ""
    groupName: str = ""
    notification: str = ""
    introduction: str = ""
    faceURL: str = ""
    ownerUserID: str = ""
    createTime: int = 0
    memberCount: int = 0
    ex: str = ""
    status: int = 0
    creatorUserID: str = ""
    groupType: int = 0
    needVerification: int = 0
    lookMemberInfo: int = 0
    applyMemberFriend: int = 0
    notificationUpdateTime: int = 0
    notificationUserID: str = ""


class GroupMemberFullInfo(WireModel):
    groupID: str = ""
    userID: str = ""
    roleLevel: int = 0
    joinTime: int = 0
    nickname: str = ""
    faceURL: str = ""
    appMangerLevel: int = 0
    joinSource: int = 0
    operatorUserID: str = ""
    ex: str = ""
    muteEndTime: int = 0
    inviterUserID: str = ""


class GroupRequest(WireModel):
    userInfo: PublicUserInfo | None = None
    groupInfo: GroupInfo | None = None
    handleResult: int = 0
    reqMsg: str = ""
    handleMsg: str = ""
    reqTime: int = 0
    handleUserID: str = ""
    handleTime: int = 0
    ex: str = ""
    joinSource: int = 0
    inviterUserID: str = ""


class WireTypeError(ValueError):
    """A field of a server answer has a JSON type its Go struct cannot take."""


_W = TypeVar("_W", bound=WireModel)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def read_wire(model: type[_W], data: Any) -> _W:
    """`data` as `model`, decoded as Go's encoding/json would; raises WireTypeError.

    Strict: Go takes a JSON number for an int64 and true/false for a bool, never
    "5", 5.0 or 1. A `null` leaves Go's field at its zero value; OpenIM writes
    null only for nil messages and lists, so nulls are dropped on a second try
    rather than on every answer.
    """
    try:
        return model.model_validate(data, strict=True)
    except ValidationError:
        pass
    try:
        return model.model_validate(_without_nulls(data), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(the object)"
        raise WireTypeError(f"{model.__name__}.{where}: {first['msg']}") from None
