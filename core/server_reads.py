"""Server answers -> core's shapes: sdkws objects read with the typed models of core/protocol/sdkws.py.

Decoding is the Go SDK's: `json.Unmarshal` of the answer into the generated
sdkws struct (openim-sdk-core pkg/network/http_client.go ApiPost), then
ServerXToLocalX (openim-sdk-core pkg/common/trans_struct.go). A missing field
or a `null` is the zero value, an unknown key is ignored, and a wrong JSON type
fails the call with 10006 SdkInternalError, as ApiPost's ErrSdkInternal does.

Speed (bench/parse_bench.py): a login reads every friend, member and request
the server lists, so each object costs one validation, not two:

- shapes with the same keys as their sdkws message (group, member, friend
  request) are validated straight into the Local model when the object has
  exactly the message's keys, which is what OpenIM writes (every field, no
  omitempty). Anything else (a missing, extra or null key, a wrong type) takes
  the exact path: the sdkws model first, then the Local model from it;
- shapes that flatten a nested message (friend, black, user, group request)
  validate the sdkws model and build the Local model from its checked values
  with `_checked`, which skips validating them a second time.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from core.errors import SdkError
from core.models import (
    LocalBlack,
    LocalFriend,
    LocalFriendRequest,
    LocalGroup,
    LocalGroupMember,
    LocalGroupRequest,
    LocalUser,
    _Shape,
)
from core.protocol.errcodes import ErrCode
from core.protocol.sdkws import (
    BlackInfo,
    FriendInfo,
    FriendRequest,
    GroupInfo,
    GroupMemberFullInfo,
    GroupRequest,
    PublicUserInfo,
    UserInfo,
    WireModel,
    WireTypeError,
    read_wire,
)

__all__ = [
    "black_from_server",
    "friend_from_server",
    "group_from_server",
    "group_request_from_server",
    "member_from_server",
    "request_from_server",
    "user_from_server",
]

_W = TypeVar("_W", bound=WireModel)
_L = TypeVar("_L", bound=_Shape)
_set = object.__setattr__


def _read(model: type[_W], data: Any) -> _W:
    try:
        return model.model_validate(data, strict=True)  # the common case, without read_wire's frames
    except ValidationError:
        pass
    try:
        return read_wire(model, data)
    except WireTypeError as exc:
        raise SdkError(ErrCode.SdkInternalError, detail=f"server answer: {exc}") from None


# Every field is given, so one set of all names serves every instance of a class
# (pydantic only ever adds a name to it, on assignment).
_ALL_FIELDS: dict[type[_Shape], set[str]] = {}


def _checked(cls: type[_L], fields: dict[str, Any]) -> _L:
    """A Local model from values a strict sdkws model has already checked; every field given.

    What pydantic's `model_construct` does, without its per-field default lookups
    (tests/core/test_server_reads.py compares the result with a validated one).
    """
    obj = cls.__new__(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", _ALL_FIELDS.get(cls) or _ALL_FIELDS.setdefault(cls, set(cls.model_fields)))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


class _SameKeys(Generic[_L, _W]):
    """A Local shape whose fields are its sdkws message's (plus attachedInfo)."""

    def __init__(self, local: type[_L], wire: type[_W]) -> None:
        self._local, self._wire = local, wire
        self._keys = frozenset(wire.model_fields)
        # Fields the message has and the Local shape drops: Go still type-checks them.
        self._dropped = tuple(k for k in wire.model_fields if k not in local.model_fields)
        assert all(wire.model_fields[k].annotation is int for k in self._dropped), "only int fields are checked"
        self._kept = tuple(k for k in local.model_fields if k in self._keys)

    def __call__(self, data: Any) -> _L:
        if type(data) is dict and data.keys() == self._keys and (not self._dropped or self._ints(data)):
            try:
                return self._local.model_validate(data, strict=True)
            except ValidationError:
                pass  # the exact path names the field
        w = _read(self._wire, data)
        return self._local.model_validate({k: getattr(w, k) for k in self._kept})

    def _ints(self, data: dict[str, Any]) -> bool:
        return all(type(data[k]) is int for k in self._dropped)


_NO_USER = UserInfo()
_NO_PUBLIC_USER = PublicUserInfo()
_NO_GROUP = GroupInfo()

request_from_server = _SameKeys(LocalFriendRequest, FriendRequest)
"""sdkws.FriendRequest -> LocalFriendRequest (same keys plus attachedInfo)."""
group_from_server = _SameKeys(LocalGroup, GroupInfo)
"""sdkws.GroupInfo -> LocalGroup (same keys plus attachedInfo)."""
member_from_server = _SameKeys(LocalGroupMember, GroupMemberFullInfo)
"""sdkws.GroupMemberFullInfo -> LocalGroupMember (appMangerLevel dropped, attachedInfo added)."""


def user_from_server(u: Any) -> LocalUser:
    """sdkws.UserInfo -> LocalUser."""
    w = _read(UserInfo, u)
    return _checked(
        LocalUser,
        {
            "userID": w.userID,
            "nickname": w.nickname,
            "faceURL": w.faceURL,
            "createTime": w.createTime,
            "ex": w.ex,
            "attachedInfo": "",
            "globalRecvMsgOpt": w.globalRecvMsgOpt,
        },
    )


def friend_from_server(f: Any) -> LocalFriend:
    """sdkws.FriendInfo (with nested friendUser) -> LocalFriend."""
    w = _read(FriendInfo, f)
    user = w.friendUser or _NO_USER
    return _checked(
        LocalFriend,
        {
            "ownerUserID": w.ownerUserID,
            "userID": user.userID,
            "remark": w.remark,
            "createTime": w.createTime,
            "addSource": w.addSource,
            "operatorUserID": w.operatorUserID,
            "nickname": user.nickname,
            "faceURL": user.faceURL,
            "ex": w.ex,
            "attachedInfo": "",
            "isPinned": w.isPinned,
        },
    )


def black_from_server(b: Any) -> LocalBlack:
    """sdkws.BlackInfo (with nested blackUserInfo) -> LocalBlack."""
    w = _read(BlackInfo, b)
    user = w.blackUserInfo or _NO_PUBLIC_USER
    return _checked(
        LocalBlack,
        {
            "ownerUserID": w.ownerUserID,
            "userID": user.userID,
            "nickname": user.nickname,
            "faceURL": user.faceURL,
            "createTime": w.createTime,
            "addSource": w.addSource,
            "operatorUserID": w.operatorUserID,
            "ex": w.ex,
            "attachedInfo": "",
        },
    )


def group_request_from_server(r: Any) -> LocalGroupRequest:
    """sdkws.GroupRequest (nested userInfo / groupInfo) -> LocalGroupRequest."""
    w = _read(GroupRequest, r)
    g = w.groupInfo or _NO_GROUP
    u = w.userInfo or _NO_PUBLIC_USER
    return _checked(
        LocalGroupRequest,
        {
            "groupID": g.groupID,
            "groupName": g.groupName,
            "notification": g.notification,
            "introduction": g.introduction,
            "groupFaceURL": g.faceURL,
            "createTime": g.createTime,
            "status": g.status,
            "creatorUserID": g.creatorUserID,
            "groupType": g.groupType,
            "ownerUserID": g.ownerUserID,
            "memberCount": g.memberCount,
            "userID": u.userID,
            "nickname": u.nickname,
            "userFaceURL": u.faceURL,
            "handleResult": w.handleResult,
            "reqMsg": w.reqMsg,
            "handledMsg": w.handleMsg,
            "reqTime": w.reqTime,
            "handleUserID": w.handleUserID,
            "handledTime": w.handleTime,
            "ex": w.ex,
            "attachedInfo": "",
            "joinSource": w.joinSource,
            "inviterUserID": w.inviterUserID,
        },
    )
