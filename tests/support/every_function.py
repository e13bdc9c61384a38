"""Every registry function, called in an order that sets up what each one needs.

One scenario for both faces: tests/e2e/test_every_function.py runs it over
REST, tests/oimws/test_every_function.py over `/ws`. A face supplies `Invoke`
(call one function as one of four users, check the answer, return its data);
the scenario says who calls what with which parameters (written as the REST
body; the oimws face turns it into positional arguments), so each call finds
the friendship, group, conversation or message it works on.

A step with an `ok` check must see it hold; a read-only step is asked again
until it does (what another user's call changed arrives asynchronously). A
list answer must not be empty unless its step says so, so the schema check
has items to look at.

When a function joins the registry, `missing` names it until it has a step
here (or an entry in `EXCLUDED`, with the reason it cannot be called).
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image
from pydantic import TypeAdapter

from core.registry import SdkFunction, all_functions
from core.transport.api import ApiClient
from core.upload import Uploader, UploadRequest
from tests.support.clock import poll_answer

__all__ = [
    "EXCLUDED",
    "STEPS",
    "USERS",
    "Invoke",
    "Step",
    "World",
    "missing",
    "run_every_function",
    "upload_objects",
    "validate_result",
]

USERS = ("a", "b", "c", "d")

# Registry functions no step calls, each with the reason it cannot be called
# by this scenario (which sends JSON bodies / oimws frames).
EXCLUDED: dict[str, str] = {
    "UploadFile": "multipart/form-data body, REST only: tests/e2e/test_uploads.py calls it",
}

# (who, function, REST-shaped parameters) -> the answer's data, already checked by the face.
Invoke = Callable[[str, SdkFunction, dict[str, Any]], Awaitable[Any]]


@dataclass
class World:
    """The users' IDs and the answers kept so far (a group, messages, conversation IDs)."""

    ids: dict[str, str]
    kept: dict[str, Any] = field(default_factory=dict)

    @property
    def a(self) -> str:
        return self.ids["a"]

    @property
    def b(self) -> str:
        return self.ids["b"]

    @property
    def c(self) -> str:
        return self.ids["c"]

    @property
    def d(self) -> str:
        return self.ids["d"]

    @property
    def gid(self) -> str:
        return str(self.kept["group"]["groupID"])

    @property
    def conv(self) -> str:
        """A's one-to-one conversation with B."""
        return str(self.kept["conv"])

    @property
    def gconv(self) -> str:
        """The group's conversation."""
        return str(self.kept["gconv"]["conversationID"])

    def msg(self, key: str) -> dict[str, Any]:
        value: dict[str, Any] = self.kept[key]
        return value

    def msg_id(self, key: str) -> str:
        return str(self.msg(key)["clientMsgID"])


@dataclass(frozen=True, slots=True)
class Step:
    fn: str
    who: str
    params: Callable[[World], dict[str, Any]]
    keep: str = ""
    ok: Callable[[World, Any], bool] | None = None
    empty_ok: bool = False


def _s(fn: str, who: str, params: Callable[[World], dict[str, Any]] = lambda w: {}, **kw: Any) -> Step:
    return Step(fn, who, params, **kw)


def _both_sent(w: World, page: dict[str, Any]) -> bool:
    """The page holds the text and the image A sent B (after imserver's stored 1201 "now friends" tip)."""
    return {w.msg_id("text_sent"), w.msg_id("image_sent")} <= {m["clientMsgID"] for m in page["messageList"]}


_PIC = {"uuid": "p1", "type": "png", "size": 10, "width": 2, "height": 3, "url": "https://x.test/p.png"}

STEPS: tuple[Step, ...] = (
    # auth, user
    _s("GetLoginStatus", "a"),
    _s("GetLoginUserID", "a", ok=lambda w, uid: uid == w.a),
    _s("SetSelfInfo", "a", lambda w: {"nickname": "Alice", "ex": "smoke"}),
    _s("GetSelfUserInfo", "a", ok=lambda w, u: u["nickname"] == "Alice"),
    _s("GetUsersInfo", "a", lambda w: {"userIDs": [w.b, w.c]}),
    _s("GetSdkVersion", "a", ok=lambda w, v: v.startswith("v3.8")),
    _s("AddUserCommand", "a", lambda w: {"type": 1, "uuid": "u1", "value": "v"}),
    _s("GetAllUserCommands", "a", lambda w: {"type": 1}, ok=lambda w, r: [c["uuid"] for c in r] == ["u1"]),
    _s("DeleteUserCommand", "a", lambda w: {"type": 1, "uuid": "u1"}),
    # online status: B and C are logged in
    _s("SubscribeUsersStatus", "a", lambda w: {"userIDs": [w.b]}, ok=lambda w, r: r[0]["status"] == 1),
    _s("GetUserStatus", "a", lambda w: {"userIDs": [w.c]}, ok=lambda w, r: r[0]["status"] == 1),
    _s("GetSubscribeUsersStatus", "a", ok=lambda w, r: {s["userID"] for s in r} == {w.b, w.c}),
    _s("UnsubscribeUsersStatus", "a", lambda w: {"userIDs": [w.c]}),
    _s("SetAppBackgroundStatus", "a", lambda w: {"isBackground": True}),
    _s("SetAppBackgroundStatus", "a", lambda w: {"isBackground": False}),
    # friends: B and C apply to A; A accepts B, refuses C
    _s("AddFriend", "b", lambda w: {"toUserID": w.a, "reqMsg": "hi"}),
    _s("AddFriend", "c", lambda w: {"toUserID": w.a}),
    _s("GetFriendApplicationListAsRecipient", "a", ok=lambda w, r: len(r) == 2),
    _s("GetFriendApplicationListAsApplicant", "b"),
    _s("GetFriendApplicationUnhandledCount", "a", lambda w: {"time": 0}, ok=lambda w, n: n == 2),
    _s("AcceptFriendApplication", "a", lambda w: {"toUserID": w.b, "handleMsg": "ok"}),
    _s("RefuseFriendApplication", "a", lambda w: {"toUserID": w.c}),
    _s("GetFriendList", "a"),
    _s(
        "GetFriendListPage",
        "a",
        lambda w: {"offset": 0, "count": 10},
        ok=lambda w, r: [f["userID"] for f in r] == [w.b],
    ),
    _s("UpdateFriends", "a", lambda w: {"friendUserIDs": [w.b], "isPinned": True, "ex": "e"}),
    _s("GetSpecifiedFriendsInfo", "a", lambda w: {"userIDList": [w.b]}, ok=lambda w, r: r[0]["isPinned"]),
    _s("CheckFriend", "a", lambda w: {"userIDList": [w.b, w.c]}, ok=lambda w, r: [x["result"] for x in r] == [1, 0]),
    _s("GetSpecifiedFriendsInfo", "a", lambda w: {"userIDList": [w.b]}),
    _s("SetFriendRemark", "a", lambda w: {"toUserID": w.b, "remark": "bee"}),
    _s("SearchFriends", "a", lambda w: {"keywordList": ["bee"], "isSearchRemark": True}),
    _s("AddBlack", "a", lambda w: {"blackUserID": w.c}),
    _s("GetBlackList", "a"),
    _s("RemoveBlack", "a", lambda w: {"removeUserID": w.c}),
    # a group of A, B and C
    _s(
        "CreateGroup",
        "a",
        lambda w: {"memberUserIDs": [w.b, w.c], "groupInfo": {"groupName": "smoke"}},
        keep="group",
        ok=lambda w, g: (g["ownerUserID"], g["creatorUserID"], g["memberCount"]) == (w.a, w.a, 3),
    ),
    _s("GetJoinedGroupList", "a"),
    _s("GetJoinedGroupListPage", "a", lambda w: {"offset": 0, "count": 5}),
    _s("IsJoinGroup", "a", lambda w: {"groupID": w.gid}, ok=lambda w, r: r is True),
    _s("GetUsersInGroup", "a", lambda w: {"groupID": w.gid, "userIDList": [w.b, w.d]}, ok=lambda w, r: r == [w.b]),
    _s(
        "GetUsersInfoWithCache",
        "a",
        lambda w: {"userIDList": [w.b], "groupID": w.gid},
        ok=lambda w, r: r[0]["friendInfo"]["userID"] == w.b and r[0]["groupMemberInfo"]["userID"] == w.b,
    ),
    _s("SetGlobalRecvMessageOpt", "a", lambda w: {"globalRecvMsgOpt": 0}),
    _s("GetSpecifiedGroupsInfo", "a", lambda w: {"groupIDList": [w.gid]}),
    _s("SearchGroups", "a", lambda w: {"keywordList": ["smoke"], "isSearchGroupName": True}),
    _s("GetGroupMemberList", "a", lambda w: {"groupID": w.gid}, ok=lambda w, m: len(m) == 3),
    _s("GetSpecifiedGroupMembersInfo", "a", lambda w: {"groupID": w.gid, "userIDList": [w.b]}),
    _s("SearchGroupMembers", "a", lambda w: {"groupID": w.gid, "keywordList": [w.c], "isSearchUserID": True}),
    _s("GetGroupMemberOwnerAndAdmin", "a", lambda w: {"groupID": w.gid}),
    _s("GetGroupMemberListByJoinTimeFilter", "a", lambda w: {"groupID": w.gid, "filterUserIDList": [w.a]}),
    _s("GetOneConversation", "a", lambda w: {"sessionType": 3, "sourceID": w.gid}, keep="gconv"),
    # messages: one of each kind made; text, image and an @ to the group sent
    _s("CreateTextMessage", "a", lambda w: {"text": "hello smoke"}, keep="text"),
    _s("CreateTextAtMessage", "a", lambda w: {"text": "@b hi", "atUserIDList": [w.b]}, keep="at"),
    _s(
        "CreateImageMessageByURL",
        "a",
        lambda w: {"sourcePicture": _PIC, "bigPicture": _PIC, "snapshotPicture": _PIC},
        keep="image",
    ),
    _s("CreateSoundMessageByURL", "a", lambda w: {"sourceUrl": "https://x.test/s.mp3", "duration": 3}),
    _s("CreateVideoMessageByURL", "a", lambda w: {"videoUrl": "https://x.test/v.mp4", "duration": 5}),
    _s("CreateFileMessageByURL", "a", lambda w: {"fileName": "a.pdf", "sourceUrl": "https://x.test/a.pdf"}),
    _s("CreateLocationMessage", "a", lambda w: {"description": "here", "longitude": 120.5, "latitude": 30.25}),
    _s("CreateQuoteMessage", "a", lambda w: {"text": "reply", "message": w.msg("text")}),
    _s("CreateCardMessage", "a", lambda w: {"cardInfo": {"userID": w.b, "nickname": "B"}}),
    _s("CreateCustomMessage", "a", lambda w: {"data": json.dumps({"k": 1}), "description": "d"}),
    _s("CreateFaceMessage", "a", lambda w: {"index": 3, "data": "smile"}),
    _s("CreateMergerMessage", "a", lambda w: {"messageList": [w.msg("text")], "title": "t", "summaryList": ["s"]}),
    _s("CreateForwardMessage", "a", lambda w: {"message": w.msg("text")}),
    _s(
        "CreateAdvancedTextMessage",
        "a",
        lambda w: {"text": "bold move", "messageEntityList": [{"type": "bold", "offset": 0, "length": 4}]},
    ),
    _s("CreateAdvancedQuoteMessage", "a", lambda w: {"text": "re", "message": w.msg("text")}),
    _s("GetAtAllTag", "a", ok=lambda w, t: t == "AtAllTag"),
    # media from uploaded objects (upload_objects): sizes read from the stored object
    _s(
        "CreateImageMessage",
        "a",
        lambda w: {"imagePath": w.kept["png"]},
        keep="image_up",
        ok=lambda w, m: (
            (m["pictureElem"]["sourcePicture"]["width"], m["pictureElem"]["sourcePicture"]["height"]) == (4, 3)
        ),
    ),
    _s("CreateImageMessageFromFullPath", "a", lambda w: {"imageFullPath": w.kept["png"]}),
    _s("CreateSoundMessage", "a", lambda w: {"soundPath": w.kept["wav"], "duration": 2}),
    _s("CreateSoundMessageFromFullPath", "a", lambda w: {"soundPath": w.kept["wav"], "duration": 2}),
    _s(
        "CreateVideoMessage",
        "a",
        lambda w: {"videoPath": w.kept["mp4"], "videoType": "mp4", "duration": 3, "snapshotPath": w.kept["png"]},
    ),
    _s(
        "CreateVideoMessageFromFullPath",
        "a",
        lambda w: {"videoFullPath": w.kept["mp4"], "duration": 3, "snapshotFullPath": w.kept["png"]},
    ),
    _s("CreateFileMessage", "a", lambda w: {"filePath": w.kept["pdf"], "fileName": "a.pdf"}),
    _s("CreateFileMessageFromFullPath", "a", lambda w: {"fileFullPath": w.kept["pdf"]}),
    # third
    _s("UpdateFcmToken", "a", lambda w: {"fcmToken": "fcm-smoke", "expireTime": 0}),
    _s("SetAppBadge", "a", lambda w: {"appUnreadCount": 3}),
    _s("Logs", "a", lambda w: {"logLevel": 4, "msgs": "smoke log", "keyAndValue": ["k", 1]}),
    _s("UploadLogs", "a", lambda w: {"line": 10, "ex": "smoke"}),
    _s("SendMessage", "a", lambda w: {"message": w.msg("text"), "recvID": w.b}, keep="text_sent"),
    _s("SendMessageNotOss", "a", lambda w: {"message": w.msg("image"), "recvID": w.b}, keep="image_sent"),
    _s("SendMessage", "a", lambda w: {"message": w.msg("at"), "groupID": w.gid}, keep="at_sent"),
    _s("SendMessage", "a", lambda w: {"message": w.msg("image_up"), "groupID": w.gid}),
    _s("TypingStatusUpdate", "a", lambda w: {"recvID": w.b, "msgTip": "typing"}),
    _s("ChangeInputStates", "a", lambda w: {"conversationID": w.gconv, "focus": True}),
    _s(
        "GetInputStates",
        "b",
        lambda w: {"conversationID": w.gconv, "userID": w.a},
        ok=lambda w, r: r == [5],
    ),
    _s("GetConversationIDBySessionType", "a", lambda w: {"sourceID": w.b, "sessionType": 1}, keep="conv"),
    _s(
        "InsertSingleMessageToLocalStorage",
        "a",
        lambda w: {"message": w.msg("text"), "recvID": w.b, "sendID": w.a},
        keep="local_msg",
    ),
    _s("InsertGroupMessageToLocalStorage", "a", lambda w: {"message": w.msg("text"), "groupID": w.gid, "sendID": w.b}),
    _s(
        "SetMessageLocalEx",
        "a",
        lambda w: {"conversationID": w.conv, "clientMsgID": w.msg_id("local_msg"), "localEx": "mine"},
    ),
    # A's own copies come back with their seqs: then history and lookups find them
    _s(
        "SearchLocalMessages",
        "a",
        lambda w: {"conversationID": w.conv, "keywordList": ["smoke"]},
        ok=lambda w, r: r["totalCount"] == 1,
    ),
    _s("GetAdvancedHistoryMessageList", "a", lambda w: {"conversationID": w.conv}, ok=_both_sent),
    _s("GetAdvancedHistoryMessageListReverse", "a", lambda w: {"conversationID": w.conv}, ok=_both_sent),
    _s(
        "FindMessageList",
        "a",
        lambda w: {"findList": [{"conversationID": w.conv, "clientMsgIDList": [w.msg_id("text_sent")]}]},
        ok=lambda w, r: r["totalCount"] == 1,
    ),
    # B reads what A sent
    _s("GetTotalUnreadMsgCount", "b", ok=lambda w, n: n >= 2),
    _s("MarkConversationMessageAsRead", "b", lambda w: {"conversationID": w.conv}),
    _s(
        "MarkMessagesAsReadByMsgID",
        "b",
        lambda w: {"conversationID": w.gconv, "clientMsgIDs": [w.msg_id("at_sent")]},
    ),
    _s("MarkAllConversationMessageAsRead", "b"),
    # conversations
    _s("GetAllConversationList", "a"),
    _s("GetConversationListSplit", "a", lambda w: {"offset": 0, "count": 10}),
    _s(
        "GetMultipleConversation",
        "a",
        lambda w: {"conversationIDList": [w.conv, w.gconv]},
        ok=lambda w, r: len(r) == 2,
    ),
    _s("SetConversationDraft", "a", lambda w: {"conversationID": w.conv, "draftText": "draft"}),
    _s("PinConversation", "a", lambda w: {"conversationID": w.conv, "isPinned": True}),
    _s("SetConversationRecvMessageOpt", "a", lambda w: {"conversationID": w.conv, "opt": 2}),
    _s("SetConversationPrivateChat", "a", lambda w: {"conversationID": w.conv, "isPrivate": True}),
    _s("SetConversationBurnDuration", "a", lambda w: {"conversationID": w.conv, "burnDuration": 30}),
    _s("ResetConversationGroupAtType", "a", lambda w: {"conversationID": w.gconv}),
    _s("SetConversation", "a", lambda w: {"conversationID": w.conv, "req": {"ex": "x", "isMsgDestruct": True}}),
    _s(
        "GetMultipleConversation",
        "a",
        lambda w: {"conversationIDList": [w.conv]},
        ok=lambda w, r: (r[0]["ex"], r[0]["isMsgDestruct"]) == ("x", True),
    ),
    _s("SearchConversation", "a", lambda w: {"searchParam": "smoke"}, ok=lambda w, r: r[0]["groupID"] == w.gid),
    _s("RevokeMessage", "a", lambda w: {"conversationID": w.conv, "clientMsgID": w.msg_id("text_sent")}),
    _s("DeleteMessage", "a", lambda w: {"conversationID": w.conv, "clientMsgID": w.msg_id("image_sent")}),
    _s(
        "DeleteMessageFromLocalStorage",
        "a",
        lambda w: {"conversationID": w.gconv, "clientMsgID": w.msg_id("at_sent")},
    ),
    _s("HideConversation", "a", lambda w: {"conversationID": w.conv}),
    _s("HideAllConversation", "a"),
    _s("HideAllConversations", "a"),
    _s("ClearConversationAndDeleteAllMsg", "a", lambda w: {"conversationID": w.gconv}),
    _s("DeleteConversationAndDeleteAllMsg", "a", lambda w: {"conversationID": w.conv}),
    _s("DeleteAllMsgFromLocal", "b"),
    _s("DeleteAllMsgFromLocalAndSvr", "b"),
    # group administration: D invited, kicked, applies twice (accepted, then refused)
    _s("SetGroupInfo", "a", lambda w: {"groupID": w.gid, "introduction": "for the smoke test"}),
    _s("SetGroupMemberInfo", "a", lambda w: {"groupID": w.gid, "userID": w.b, "nickname": "bee"}),
    _s("ChangeGroupMemberMute", "a", lambda w: {"groupID": w.gid, "userID": w.c, "mutedSeconds": 60}),
    _s("ChangeGroupMute", "a", lambda w: {"groupID": w.gid, "isMute": True}),
    _s("InviteUserToGroup", "a", lambda w: {"groupID": w.gid, "userIDList": [w.d]}),
    _s("KickGroupMember", "a", lambda w: {"groupID": w.gid, "userIDList": [w.d], "reason": "bye"}),
    _s("JoinGroup", "d", lambda w: {"groupID": w.gid, "reqMsg": "let me in"}),
    _s("GetGroupApplicationUnhandledCount", "a", lambda w: {"time": 0}, ok=lambda w, n: n == 1),
    _s("GetGroupApplicationListAsApplicant", "d", ok=lambda w, r: [x["reqMsg"] for x in r] == ["let me in"]),
    _s(
        "GetGroupApplicationListAsRecipient",
        "a",
        lambda w: {"groupIDs": [w.gid]},
        ok=lambda w, r: [(x["userID"], x["reqMsg"]) for x in r] == [(w.d, "let me in")],
    ),
    _s("AcceptGroupApplication", "a", lambda w: {"groupID": w.gid, "fromUserID": w.d}),
    _s("QuitGroup", "d", lambda w: {"groupID": w.gid}),
    _s("JoinGroup", "d", lambda w: {"groupID": w.gid, "reqMsg": "again"}),
    _s("RefuseGroupApplication", "a", lambda w: {"groupID": w.gid, "fromUserID": w.d, "handleMsg": "no"}),
    _s("TransferGroupOwner", "a", lambda w: {"groupID": w.gid, "newOwnerUserID": w.b}),
    _s("DismissGroup", "b", lambda w: {"groupID": w.gid}),
    _s("DeleteFriend", "a", lambda w: {"friendUserID": w.b}),
    _s("NetworkStatusChanged", "c"),
)


@functools.cache
def _adapter(result: Any) -> TypeAdapter[Any]:
    return TypeAdapter(result)


def validate_result(fn: SdkFunction, data: Any) -> None:
    """`data` (decoded JSON) is a value of the function's declared result type, read as JSON strictly."""
    if fn.result is None:
        assert data is None, f"{fn.name} declares no result but answered {data!r}"
        return
    _adapter(fn.result).validate_json(json.dumps(data), strict=True)


def _expected(step: Step, world: World, data: Any) -> bool:
    if step.ok is not None:
        return bool(step.ok(world, data))
    return step.empty_ok or not isinstance(data, list) or bool(data)


async def upload_objects(http: httpx.AsyncClient, api_url: str, token: str, user_id: str) -> dict[str, str]:
    """Objects the media steps send, uploaded to the upstream as the SDK uploads (core/upload.py)."""
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (1, 2, 3)).save(buf, "PNG")
    contents = {
        "png": (buf.getvalue(), "image/png"),
        "wav": (b"RIFF0000WAVE" * 10, "audio/wav"),
        "mp4": (b"\0\0\0 ftypisom" * 10, "video/mp4"),
        "pdf": (b"%PDF-1.4 smoke", "application/pdf"),
    }
    uploader = Uploader(ApiClient(http, api_url, token), user_id)
    urls = {}
    for key, (data, ctype) in contents.items():
        req = UploadRequest(io.BytesIO(data), len(data), f"smoke/{key}.{key}", ctype, "smoke")
        urls[key] = await uploader.upload(req, f"smoke-upload-{key}")
    return urls


async def run_every_function(
    ids: dict[str, str], invoke: Invoke, timeout: float = 10.0, kept: dict[str, Any] | None = None
) -> set[str]:
    """Run every step as its user (`kept`: answers prepared before, e.g. upload_objects'); the names called."""
    functions = all_functions()
    unknown = sorted({s.fn for s in STEPS} - set(functions))
    assert not unknown, f"steps name functions that are not registered: {unknown}"
    world = World(ids, dict(kept or {}))
    called: set[str] = set()
    for step in STEPS:
        fn = functions[step.fn]
        params = step.params(world)
        data = await invoke(step.who, fn, params)
        if not _expected(step, world, data):
            # Only a read may be asked again: the state it shows comes from another call's effects.
            assert fn.read_only, f"{fn.name} as {step.who} with {params}: unexpected answer {data!r}"
            ask = functools.partial(invoke, step.who, fn, params)
            ok = functools.partial(_expected, step, world)
            data = await poll_answer(ask, ok, timeout, f"{fn.name} as {step.who}")
        if step.keep:
            world.kept[step.keep] = data
        called.add(fn.name)
    return called


def missing(called: Iterable[str]) -> list[str]:
    """Registry functions neither called nor excluded (the message says what to do about them)."""
    functions = all_functions()
    assert set(EXCLUDED) <= set(functions), f"EXCLUDED names unregistered functions: {set(EXCLUDED) - set(functions)}"
    assert not set(EXCLUDED) & set(called), "an excluded function was called: take it off EXCLUDED"
    return sorted(set(functions) - set(called) - set(EXCLUDED))
