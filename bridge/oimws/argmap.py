"""Positional oimws arguments -> the registry's parameter models.

An oimws request carries its arguments as a JSON array (inside the `data`
string) in the order of the Go SDK function's parameters after `operationID`
(oimws pkg/module/jsCore.go; openim-v3.md 5.1-5.6): `AddBlack` sends
`["u2", ""]` for `(blackUserID, ex)`, `AddFriend` sends one argument, the JSON
text of its request object. The REST face takes the same parameters as one
object whose field names are OpenIM's, so the mapping from one to the other
is a list of field names per function, kept here in one table:

- `pos("groupID", "reqMsg", ...)`: argument i fills field i; a trailing
  argument may be left out when its field has a default;
- `WHOLE`: the single argument is the parameter object itself;
- a function whose model has no fields takes no argument (derived, no entry).

Argument values follow the Go SDK's conversion (openim-sdk-core caller.go,
oimws ws_handler.go `call_`): a string given for a list, object or model field
is JSON text and is decoded; a string for a string field is taken verbatim; a
`null` (JS `undefined` in an array) or `""` for a non-string field counts as
left out. Objects drop keys their model does not know, at every depth, as
Go's `json.Unmarshal` does, so apps passing fuller objects keep working (the
REST face, by contrast, refuses unknown keys).

To map a new registry function, add one line to `TABLE`;
tests/oimws/test_argmap.py fails, naming it, until every function is mapped.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from core.protocol.jsonlimits import loads_bounded
from core.registry import SdkFunction

__all__ = ["TABLE", "WHOLE", "ArgSpec", "ArgumentError", "Bound", "bind", "pos", "resolve", "spec_for", "unmapped"]


class ArgumentError(ValueError):
    """The arguments do not fit the function; the message names the argument."""


@dataclass(frozen=True, slots=True)
class ArgSpec:
    """How one function's positional arguments fill its parameter model.

    `fields` are the parameter names in argument order; `whole` means the one
    argument is the parameter object. `target` names the registry function to
    run when no registry function has the SDK name itself (an alias).
    """

    fields: tuple[str, ...] = ()
    whole: bool = False
    target: str | None = None

    @property
    def arity(self) -> int:
        return 1 if self.whole else len(self.fields)

    def describe(self) -> str:
        return "(params object)" if self.whole else f"({', '.join(self.fields)})"


def pos(*fields: str, target: str | None = None) -> ArgSpec:
    return ArgSpec(fields=fields, target=target)


WHOLE = ArgSpec(whole=True)

# Argument orders: open-im-sdk 3.5.2 src/api/*.ts (what the client sends), which
# follow the Go SDK signatures (openim-v3.md 5.2-5.6).
TABLE: dict[str, ArgSpec] = {
    # user
    "SetSelfInfo": WHOLE,
    "GetUsersInfo": pos("userIDs"),
    "SubscribeUsersStatus": pos("userIDs"),
    "GetUserStatus": pos("userIDs"),
    "UnsubscribeUsersStatus": pos("userIDs"),
    "SetAppBackgroundStatus": pos("isBackground"),
    "SetGlobalRecvMessageOpt": pos("globalRecvMsgOpt"),
    "AddUserCommand": pos("type", "uuid", "value"),
    "DeleteUserCommand": pos("type", "uuid"),
    "GetAllUserCommands": pos("type"),
    # friend
    "AddFriend": WHOLE,
    "AcceptFriendApplication": WHOLE,
    "RefuseFriendApplication": WHOLE,
    "CheckFriend": pos("userIDList"),
    "DeleteFriend": pos("friendUserID"),
    "GetFriendList": pos("filterBlack"),
    "GetSpecifiedFriendsInfo": pos("userIDList", "filterBlack"),
    "GetFriendApplicationListAsRecipient": WHOLE,
    "GetFriendApplicationListAsApplicant": WHOLE,
    "SearchFriends": WHOLE,
    "SetFriendRemark": WHOLE,
    "AddBlack": pos("blackUserID", "ex"),
    "RemoveBlack": pos("removeUserID"),
    # group
    "CreateGroup": WHOLE,
    "JoinGroup": pos("groupID", "reqMsg", "joinSource", "ex"),
    "InviteUserToGroup": pos("groupID", "reason", "userIDList"),
    "KickGroupMember": pos("groupID", "reason", "userIDList"),
    "SearchGroups": WHOLE,
    "GetSpecifiedGroupsInfo": pos("groupIDList"),
    "SetGroupInfo": WHOLE,
    "GetGroupApplicationListAsRecipient": WHOLE,
    "GetGroupApplicationListAsApplicant": WHOLE,
    "AcceptGroupApplication": pos("groupID", "fromUserID", "handleMsg"),
    "RefuseGroupApplication": pos("groupID", "fromUserID", "handleMsg"),
    "GetGroupMemberList": pos("groupID", "filter", "offset", "count"),
    "GetSpecifiedGroupMembersInfo": pos("groupID", "userIDList"),
    "SearchGroupMembers": WHOLE,
    "SetGroupMemberInfo": WHOLE,
    "GetGroupMemberOwnerAndAdmin": pos("groupID"),
    "GetGroupMemberListByJoinTimeFilter": pos(
        "groupID", "offset", "count", "joinTimeBegin", "joinTimeEnd", "filterUserIDList"
    ),
    "ChangeGroupMemberMute": pos("groupID", "userID", "mutedSeconds"),
    "ChangeGroupMute": pos("groupID", "isMute"),
    "TransferGroupOwner": pos("groupID", "newOwnerUserID"),
    "DismissGroup": pos("groupID"),
    "QuitGroup": pos("groupID"),
    # conversation
    "GetConversationListSplit": pos("offset", "count"),
    "GetOneConversation": pos("sessionType", "sourceID"),
    "GetMultipleConversation": pos("conversationIDList"),
    "GetConversationIDBySessionType": pos("sourceID", "sessionType"),
    "MarkConversationMessageAsRead": pos("conversationID"),
    "SetConversationDraft": pos("conversationID", "draftText"),
    "PinConversation": pos("conversationID", "isPinned"),
    "SetConversationRecvMessageOpt": pos("conversationID", "opt"),
    "SetConversationPrivateChat": pos("conversationID", "isPrivate"),
    "SetConversationBurnDuration": pos("conversationID", "burnDuration"),
    "ResetConversationGroupAtType": pos("conversationID"),
    "HideConversation": pos("conversationID"),
    "ClearConversationAndDeleteAllMsg": pos("conversationID"),
    "DeleteConversationAndDeleteAllMsg": pos("conversationID"),
    "ChangeInputStates": pos("conversationID", "focus"),
    "GetInputStates": pos("conversationID", "userID"),
    # message
    "CreateTextMessage": pos("text"),
    "CreateTextAtMessage": pos("text", "atUserIDList", "atUsersInfo", "message"),
    "CreateImageMessageByURL": pos("sourcePath", "sourcePicture", "bigPicture", "snapshotPicture"),
    "CreateSoundMessageByURL": WHOLE,
    "CreateVideoMessageByURL": WHOLE,
    "CreateFileMessageByURL": WHOLE,
    "CreateMergerMessage": pos("messageList", "title", "summaryList"),
    "CreateForwardMessage": pos("message"),
    "CreateLocationMessage": pos("description", "longitude", "latitude"),
    "CreateQuoteMessage": pos("text", "message"),
    "CreateCardMessage": pos("cardInfo"),
    "CreateCustomMessage": pos("data", "extension", "description"),
    "CreateFaceMessage": pos("index", "data"),
    "SendMessage": pos("message", "recvID", "groupID", "offlinePushInfo", "isOnlineOnly"),
    # open-im-sdk's sendMessage() sends this name; media already carry URLs.
    "SendMessageNotOss": pos("message", "recvID", "groupID", "offlinePushInfo", "isOnlineOnly", target="SendMessage"),
    "TypingStatusUpdate": pos("recvID", "msgTip"),
    "RevokeMessage": pos("conversationID", "clientMsgID"),
    "DeleteMessage": pos("conversationID", "clientMsgID"),
    "DeleteMessageFromLocalStorage": pos("conversationID", "clientMsgID"),
    "SearchLocalMessages": WHOLE,
    "GetAdvancedHistoryMessageList": WHOLE,
    "GetAdvancedHistoryMessageListReverse": WHOLE,
    "FindMessageList": pos("findList"),
    "InsertGroupMessageToLocalStorage": pos("message", "groupID", "sendID"),
    "InsertSingleMessageToLocalStorage": pos("message", "recvID", "sendID"),
    "SetMessageLocalEx": pos("conversationID", "clientMsgID", "localEx"),
    # media from uploads (issue 15): the path is the url POST /v1/third/upload_file answered
    "CreateImageMessage": pos("imagePath"),
    "CreateImageMessageFromFullPath": pos("imageFullPath"),
    "CreateSoundMessage": pos("soundPath", "duration"),
    "CreateSoundMessageFromFullPath": pos("soundPath", "duration"),
    "CreateVideoMessage": pos("videoPath", "videoType", "duration", "snapshotPath"),
    "CreateVideoMessageFromFullPath": pos("videoFullPath", "videoType", "duration", "snapshotFullPath"),
    "CreateFileMessage": pos("filePath", "fileName"),
    "CreateFileMessageFromFullPath": pos("fileFullPath", "fileName"),
    # v3.8 friend, group, conversation and message functions (issue 15)
    "GetFriendListPage": pos("offset", "count", "filterBlack"),
    "GetFriendApplicationUnhandledCount": WHOLE,
    "UpdateFriends": WHOLE,
    "GetJoinedGroupListPage": pos("offset", "count"),
    "IsJoinGroup": pos("groupID"),
    "GetUsersInGroup": pos("groupID", "userIDList"),
    "GetGroupApplicationUnhandledCount": WHOLE,
    "SetConversation": pos("conversationID", "req"),
    "SearchConversation": pos("searchParam"),
    "MarkMessagesAsReadByMsgID": pos("conversationID", "clientMsgIDs"),
    "CreateAdvancedTextMessage": pos("text", "messageEntityList"),
    "CreateAdvancedQuoteMessage": pos("text", "message", "messageEntityList"),
    # open-im-sdk 3.5.2 names (src/api/user.ts)
    "GetUsersInfoWithCache": pos("userIDList", "groupID"),
    # third
    "UpdateFcmToken": pos("fcmToken", "expireTime"),
    "SetAppBadge": pos("appUnreadCount"),
    "Logs": pos("logLevel", "file", "line", "msgs", "err", "keyAndValue"),
    "UploadLogs": pos("line", "ex"),
}

_NO_ARGS = ArgSpec()


def spec_for(fn: SdkFunction, table: Mapping[str, ArgSpec] = TABLE) -> ArgSpec | None:
    """The mapping of a registry function: its entry, or no arguments for a field-less model.

    A multipart function (UploadFile) has none: its content cannot come in a
    frame, and open-im-sdk uploads in the page itself (catalog.CLIENT_SIDE).
    """
    if fn.multipart:
        return None
    spec = table.get(fn.name)
    if spec is not None:
        return spec
    return _NO_ARGS if not fn.params.model_fields else None


def unmapped(functions: Mapping[str, SdkFunction], table: Mapping[str, ArgSpec] = TABLE) -> list[str]:
    """Registry functions the oimws face cannot call: no entry, and a model with fields."""
    return sorted(name for name, fn in functions.items() if not fn.multipart and spec_for(fn, table) is None)


@dataclass(frozen=True, slots=True)
class Bound:
    """An SDK name resolved to the registry function that answers it, and how."""

    name: str
    fn: SdkFunction
    spec: ArgSpec


def resolve(name: str, functions: Mapping[str, SdkFunction], table: Mapping[str, ArgSpec] = TABLE) -> Bound | None:
    """The registry function answering `name` (itself, else the entry's target), if mapped."""
    fn = functions.get(name)
    entry = table.get(name)
    if fn is None and entry is not None and entry.target is not None:
        fn = functions.get(entry.target)
    if fn is None or fn.multipart:
        return None
    spec = entry or spec_for(fn, table)
    return Bound(name, fn, spec) if spec is not None else None


def bind(bound: Bound, args: list[Any]) -> BaseModel:
    """Fill `bound.fn.params` from positional `args`, or raise ArgumentError naming the argument."""
    spec, model, name = bound.spec, bound.fn.params, bound.name
    if len(args) > spec.arity:
        raise ArgumentError(f"{name} takes at most {spec.arity} argument(s) {spec.describe()}, got {len(args)}")
    fields = model.model_fields
    values: dict[str, Any] = {}
    if spec.whole:
        if args and not _absent(args[0], want_json=True):
            obj = _decode(name, 1, "params object", args[0], want_json=True)
            if not isinstance(obj, dict):
                raise ArgumentError(f"{name}: argument 1 (params object) must be a JSON object")
            values = _prune(model, obj)
    else:
        for i, (field, value) in enumerate(zip(spec.fields, args, strict=False)):
            annotation = fields[field].annotation if field in fields else None
            want_json = _wants_json(annotation)
            if not _absent(value, want_json):
                values[field] = _prune_value(annotation, _decode(name, i + 1, field, value, want_json))
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ArgumentError(_explain(name, spec, exc)) from exc


def _absent(value: Any, want_json: bool) -> bool:
    return value is None or (want_json and value == "")


def _decode(name: str, index: int, label: str, value: Any, want_json: bool) -> Any:
    if not (want_json and isinstance(value, str)):
        return value
    try:
        return loads_bounded(value)  # JSON text in an argument: depth-checked like the frame
    except ValueError as exc:
        raise ArgumentError(f"{name}: argument {index} ({label}) is not valid JSON text: {exc}") from exc


def _explain(name: str, spec: ArgSpec, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        field = loc[0] if loc else ""
        if spec.whole:
            where = f"argument 1 (params object) field {'.'.join(loc) or '?'}"
        elif field in spec.fields:
            where = f"argument {spec.fields.index(field) + 1} ({'.'.join(loc)})"
        else:
            where = f"parameter {'.'.join(loc) or '?'}"
        parts.append(f"{where}: {err['msg']}")
    return f"{name}: " + "; ".join(parts)


def _prune(model: type[BaseModel], obj: dict[str, Any]) -> dict[str, Any]:
    """Drop keys `model` does not know, at every depth, as Go's json.Unmarshal ignores them."""
    if model.model_config.get("extra") == "allow":
        return obj
    fields = model.model_fields
    return {k: _prune_value(fields[k].annotation, v) for k, v in obj.items() if k in fields}


def _prune_value(annotation: Any, value: Any) -> Any:
    model = _model_of(annotation)
    if model is not None and isinstance(value, dict):
        return _prune(model, value)
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(annotation) or (Any,)
        return [_prune_value(item, v) for v in value]
    return value


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class of a `Model` or `Model | None` annotation."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        models = [m for a in typing.get_args(annotation) if (m := _model_of(a)) is not None]
        return models[0] if len(models) == 1 else None
    return annotation if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else None


_STRUCTURED = (list, dict, set, frozenset, tuple)


def _wants_json(annotation: Any) -> bool:
    """A list, dict or model field: a string argument for it is JSON text (Go json.Unmarshal)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _wants_json(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        arms = [a for a in typing.get_args(annotation) if a is not type(None)]
        return str not in arms and any(_wants_json(a) for a in arms)
    if origin in _STRUCTURED or annotation in _STRUCTURED:
        return True
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)
