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
  with `_checked`, which skips validating them a second time; one table per
  shape says where each field is (`_flattened`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, get_args

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


def _flattened(local: type[_L], wire: type[WireModel], moved: dict[str, str]) -> Callable[[Any], _L]:
    """The reader of a Local shape that flattens its sdkws message and messages nested in it.

    `moved` names, for each Local field not of the same name in the message, where its value
    is: "nested.field" (a nested message; absent or null reads as its zero value, as Go's nil
    pointer getters do) or "field" (the message's, under another name). Every other Local
    field is the message's own, but attachedInfo, which sdkws has not: "".

    The table is compiled to one function, as dataclasses compiles __init__: read the message,
    then one dict display of attribute reads in the Local model's field order: as fast as the
    hand-written functions it replaced, where a loop over the table, or itemgetters, made the
    whole read 1.2-1.5x slower (A/B per shape, as bench/parse_bench.py times them). Every
    name in the code is a pydantic field name, so an identifier.
    """
    nested = sorted({path.partition(".")[0] for path in moved.values() if "." in path})
    env: dict[str, Any] = {"_read": _read, "_checked": _checked, "local": local, "wire": wire}
    env |= {f"_zero_{n}": _zero(wire, n) for n in nested}
    lines = [f"    {n} = w.{n} or _zero_{n}" for n in nested]
    items = []
    for name in local.model_fields:
        nest, _, key = moved.get(name, name).rpartition(".")
        model = type(env[f"_zero_{nest}"]) if nest else wire
        if key in model.model_fields:
            items.append(f"{name!r}: {nest or 'w'}.{key}")
        else:
            if nest or name not in _LOCAL_ONLY:
                raise ValueError(f"{local.__name__}.{name}: {wire.__name__} has no {moved.get(name, name)}")
            items.append(f"{name!r}: {_LOCAL_ONLY[name]!r}")
    code = "\n".join(
        ["def read(data):", "    w = _read(wire, data)", *lines, f"    return _checked(local, {{{', '.join(items)}}})"]
    )
    exec(code, env)
    read: Callable[[Any], _L] = env["read"]
    read.__qualname__ = read.__name__ = f"read_{wire.__name__}"  # for profiles
    return read


_LOCAL_ONLY: dict[str, Any] = {"attachedInfo": ""}


def _zero(wire: type[WireModel], name: str) -> WireModel:
    """A nested message field's zero value (the field is `X | None`: an X with every default)."""
    (model,) = (t for t in get_args(wire.model_fields[name].annotation) if t is not type(None))
    zero: WireModel = model()
    return zero


request_from_server = _SameKeys(LocalFriendRequest, FriendRequest)
"""sdkws.FriendRequest -> LocalFriendRequest (same keys plus attachedInfo)."""
group_from_server = _SameKeys(LocalGroup, GroupInfo)
"""sdkws.GroupInfo -> LocalGroup (same keys plus attachedInfo)."""
member_from_server = _SameKeys(LocalGroupMember, GroupMemberFullInfo)
"""sdkws.GroupMemberFullInfo -> LocalGroupMember (appMangerLevel dropped, attachedInfo added)."""
user_from_server = _flattened(LocalUser, UserInfo, {})
"""sdkws.UserInfo -> LocalUser (appMangerLevel dropped)."""
friend_from_server = _flattened(
    LocalFriend,
    FriendInfo,
    {"userID": "friendUser.userID", "nickname": "friendUser.nickname", "faceURL": "friendUser.faceURL"},
)
"""sdkws.FriendInfo (with nested friendUser) -> LocalFriend."""
black_from_server = _flattened(
    LocalBlack,
    BlackInfo,
    {"userID": "blackUserInfo.userID", "nickname": "blackUserInfo.nickname", "faceURL": "blackUserInfo.faceURL"},
)
"""sdkws.BlackInfo (with nested blackUserInfo) -> LocalBlack."""
group_request_from_server = _flattened(
    LocalGroupRequest,
    GroupRequest,
    {
        **{
            f: f"groupInfo.{f}"
            for f in (
                "groupID",
                "groupName",
                "notification",
                "introduction",
                "createTime",
                "status",
                "creatorUserID",
                "groupType",
                "ownerUserID",
                "memberCount",
            )
        },
        "groupFaceURL": "groupInfo.faceURL",
        "userID": "userInfo.userID",
        "nickname": "userInfo.nickname",
        "userFaceURL": "userInfo.faceURL",
        "handledMsg": "handleMsg",
        "handledTime": "handleTime",
    },
)
"""sdkws.GroupRequest (nested userInfo / groupInfo) -> LocalGroupRequest."""
