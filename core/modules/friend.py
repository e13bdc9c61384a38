"""Friend functions and OnFriendshipListener (openim-v3.md 5.4, 5.9 step 6, 5.10).

State kept per core: friends, blacks and friend requests, plus the friend-list
version. Every change, whether caused by our own call, a notification pushed by
the gateway, or a sync after reconnect or revival, goes through one diff of
server truth against that state, so each callback fires once whatever path
noticed the change first, and changes missed while offline or parked surface
on the next sync.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.events import FRIENDSHIP
from core.models import (
    FriendCheckResult,
    LocalBlack,
    LocalFriend,
    LocalFriendRequest,
    SearchFriendItem,
)
from core.modules.base import Module, NoParams, Params, diff_by_key, tips_of
from core.protocol.constants import PARAM_MAX_LENGTH, ContentType, HandleResult
from core.protocol.openim_pb2 import MsgData
from core.registry import sdk_function
from core.server_reads import black_from_server, friend_from_server, request_from_server
from core.untrusted import text

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["FriendModule"]

UserID = Field(min_length=1, max_length=64)


class AddFriendParams(Params):
    toUserID: str = UserID
    reqMsg: str = Field(default="", max_length=1024)
    ex: str = Field(default="", max_length=1024)


class HandleApplicationParams(Params):
    """`toUserID` is the applicant (openim-sdk-core ProcessFriendApplicationParams)."""

    toUserID: str = UserID
    handleMsg: str = Field(default="", max_length=1024)


class UserIDListParams(Params):
    userIDList: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class SpecifiedFriendsParams(UserIDListParams):
    filterBlack: bool = False


class FriendListParams(Params):
    filterBlack: bool = False


class DeleteFriendParams(Params):
    friendUserID: str = UserID


class ApplicationListAsRecipientParams(Params):
    handleResults: list[int] = Field(default_factory=list, max_length=3)
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=0, ge=0, le=1000, description="0 = all")


class ApplicationListAsApplicantParams(Params):
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=0, ge=0, le=1000, description="0 = all")


class SearchFriendsParams(Params):
    keywordList: list[str] = Field(min_length=1, max_length=10)
    isSearchUserID: bool = False
    isSearchNickname: bool = False
    isSearchRemark: bool = False


class SetFriendRemarkParams(Params):
    toUserID: str = UserID
    remark: str = Field(max_length=255)


class AddBlackParams(Params):
    blackUserID: str = UserID
    ex: str = Field(default="", max_length=1024)


class RemoveBlackParams(Params):
    removeUserID: str = UserID


_RELATION_SYNC: dict[int, tuple[str, ...]] = {
    ContentType.FRIEND_APPLICATION_APPROVED: ("requests", "friends"),
    ContentType.FRIEND_APPLICATION_REJECTED: ("requests",),
    ContentType.FRIEND_APPLICATION: ("requests",),
    ContentType.FRIEND_ADDED: ("friends",),
    ContentType.FRIEND_DELETED: ("friends",),
    ContentType.FRIEND_REMARK_SET: ("friends",),
    ContentType.FRIENDS_INFO_UPDATE: ("friends",),
    ContentType.BLACK_ADDED: ("blacks",),
    ContentType.BLACK_DELETED: ("blacks",),
}


_FRIEND_CALLBACKS = ("OnFriendAdded", "OnFriendDeleted", "OnFriendInfoChanged")


def _req_key(r: LocalFriendRequest) -> str:
    return f"{r.fromUserID}\x00{r.toUserID}"


class FriendModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.friends: dict[str, LocalFriend] = {}
        self.blacks: dict[str, LocalBlack] = {}
        self.requests: dict[str, LocalFriendRequest] = {}
        self.version_id = ""
        self.version = 0
        # Nothing is emitted for the very first load of a user: it is the
        # starting state, not a change.
        self._baseline = {"friends": False, "blacks": False, "requests": False}
        self._locks = {k: asyncio.Lock() for k in self._baseline}

    # -- checkpoint ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "versionID": self.version_id,
            "version": self.version,
            "friends": [f.model_dump() for f in self.friends.values()] if self._baseline["friends"] else None,
            "blacks": [b.model_dump() for b in self.blacks.values()] if self._baseline["blacks"] else None,
            "requests": [r.model_dump() for r in self.requests.values()] if self._baseline["requests"] else None,
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.version_id = str(data.get("versionID") or "")
        self.version = int(data.get("version") or 0)
        if data.get("friends") is not None:
            self.friends = {f["userID"]: LocalFriend.model_validate(f) for f in data["friends"]}
            self._baseline["friends"] = True
        if data.get("blacks") is not None:
            self.blacks = {b["userID"]: LocalBlack.model_validate(b) for b in data["blacks"]}
            self._baseline["blacks"] = True
        if data.get("requests") is not None:
            reqs = [LocalFriendRequest.model_validate(r) for r in data["requests"]]
            self.requests = {_req_key(r): r for r in reqs}
            self._baseline["requests"] = True

    # -- sync ------------------------------------------------------------

    async def sync(self, operation_id: str) -> None:
        await self.sync_friends(operation_id)
        await self.sync_blacks(operation_id)
        await self.sync_requests(operation_id)

    async def on_notification(self, msg: MsgData, operation_id: str) -> None:
        if msg.contentType == ContentType.FRIEND_INFO_UPDATED:
            # A friend changed their profile: their version may not move in our
            # friend list, so re-read that one friend (1209, openim-v3.md 5.10).
            await self.refresh_friend(text(tips_of(msg), "userID"), operation_id)
            return
        for part in _RELATION_SYNC.get(msg.contentType, ()):
            await getattr(self, f"sync_{part}")(operation_id)

    async def refresh_friend(self, user_id: str, operation_id: str) -> None:
        if not user_id:
            return
        async with self._locks["friends"]:
            body = {"ownerUserID": self.me, "friendUserIDs": [user_id]}
            data = await self.core.api.post("/friend/get_designated_friends", body, operation_id) or {}
            fresh = {f.userID: f for f in map(friend_from_server, data.get("friendsInfo") or [])}
            old = {user_id: self.friends[user_id]} if user_id in self.friends else {}
            changes = diff_by_key(old, fresh, *_FRIEND_CALLBACKS)
            self.friends.pop(user_id, None)
            self.friends.update(fresh)
            await self._emit_all(changes, "friends", operation_id)

    async def sync_friends(self, operation_id: str) -> None:
        """Friend-list version sync: `get_incremental_friends`, falling back to the full list."""
        async with self._locks["friends"]:
            api = self.core.api
            body = {"userID": self.me, "versionID": self.version_id, "version": self.version}
            delta = await api.post("/friend/get_incremental_friends", body, operation_id) or {}
            if delta.get("full") or not self._baseline["friends"]:
                items = await api.page_all("/friend/get_friend_list", {"userID": self.me}, "friendsInfo", operation_id)
                fresh = [friend_from_server(f) for f in items]
                changes = diff_by_key(self.friends, {f.userID: f for f in fresh}, *_FRIEND_CALLBACKS)
                self.friends = {f.userID: f for f in fresh}
            else:
                changes = []
                for uid in delta.get("delete") or []:
                    gone = self.friends.pop(uid, None)
                    if gone is not None:
                        changes.append(("OnFriendDeleted", gone))
                for raw in (delta.get("insert") or []) + (delta.get("update") or []):
                    f = friend_from_server(raw)
                    old = self.friends.get(f.userID)
                    self.friends[f.userID] = f
                    if old is None:
                        changes.append(("OnFriendAdded", f))
                    elif old != f:
                        changes.append(("OnFriendInfoChanged", f))
            self.version_id = str(delta.get("versionID") or self.version_id)
            self.version = int(delta.get("version") or self.version)
            await self._emit_all(changes, "friends", operation_id)

    async def sync_blacks(self, operation_id: str) -> None:
        async with self._locks["blacks"]:
            items = await self.core.api.page_all("/friend/get_black_list", {"userID": self.me}, "blacks", operation_id)
            fresh = {b.userID: b for b in map(black_from_server, items)}
            changes = diff_by_key(self.blacks, fresh, "OnBlackAdded", "OnBlackDeleted", None)
            self.blacks = fresh
            await self._emit_all(changes, "blacks", operation_id)

    async def sync_requests(self, operation_id: str) -> None:
        """Friend requests both ways; a new or re-opened one is Added, a handled one Accepted/Rejected."""
        async with self._locks["requests"]:
            api = self.core.api
            received = await api.page_all(
                "/friend/get_friend_apply_list",
                {"userID": self.me, "handleResults": []},
                "FriendRequests",
                operation_id,
            )
            sent = await api.page_all(
                "/friend/get_self_friend_apply_list",
                {"userID": self.me, "handleResults": []},
                "friendRequests",
                operation_id,
            )
            fresh = {_req_key(r): r for r in map(request_from_server, received + sent)}
            changes: list[tuple[str, Any]] = []
            for key, new in fresh.items():
                old = self.requests.get(key)
                if old is not None and old.handleResult == new.handleResult and old.createTime == new.createTime:
                    continue
                if new.handleResult == HandleResult.AGREE:
                    changes.append(("OnFriendApplicationAccepted", new))
                elif new.handleResult == HandleResult.REFUSE:
                    changes.append(("OnFriendApplicationRejected", new))
                else:
                    changes.append(("OnFriendApplicationAdded", new))
            changes += [("OnFriendApplicationDeleted", old) for key, old in self.requests.items() if key not in fresh]
            self.requests = fresh
            await self._emit_all(changes, "requests", operation_id)

    async def _emit_all(self, changes: list[tuple[str, Any]], part: str, operation_id: str) -> None:
        if not self._baseline[part]:
            self._baseline[part] = True
            changes = []
        for callback, obj in changes:
            await self.core.emit(FRIENDSHIP, callback, obj.model_dump(), operation_id)
        self.core.checkpoint_dirty()

    # -- functions -------------------------------------------------------

    @sdk_function("friend", "AddFriend", AddFriendParams, None)
    async def add_friend(self, params: AddFriendParams, operation_id: str) -> None:
        """Send a friend application to `toUserID`."""
        body = {"fromUserID": self.me, **params.model_dump()}
        await self.core.api.post("/friend/add_friend", body, operation_id)
        await self.sync_requests(operation_id)

    async def _respond(self, params: HandleApplicationParams, result: HandleResult, operation_id: str) -> None:
        body = {
            "fromUserID": params.toUserID,
            "toUserID": self.me,
            "handleResult": int(result),
            "handleMsg": params.handleMsg,
        }
        await self.core.api.post("/friend/add_friend_response", body, operation_id)
        await self.sync_requests(operation_id)
        if result == HandleResult.AGREE:
            await self.sync_friends(operation_id)

    @sdk_function("friend", "AcceptFriendApplication", HandleApplicationParams, None)
    async def accept_friend_application(self, params: HandleApplicationParams, operation_id: str) -> None:
        """Accept the application that `toUserID` sent to the login user."""
        await self._respond(params, HandleResult.AGREE, operation_id)

    @sdk_function("friend", "RefuseFriendApplication", HandleApplicationParams, None)
    async def refuse_friend_application(self, params: HandleApplicationParams, operation_id: str) -> None:
        """Refuse the application that `toUserID` sent to the login user."""
        await self._respond(params, HandleResult.REFUSE, operation_id)

    @sdk_function("friend", "CheckFriend", UserIDListParams, list[FriendCheckResult], read_only=True)
    async def check_friend(self, params: UserIDListParams, operation_id: str) -> list[FriendCheckResult]:
        """For each user: 1 if a friend and not blacklisted, else 0."""
        return [
            FriendCheckResult(userID=u, result=int(u in self.friends and u not in self.blacks))
            for u in params.userIDList
        ]

    @sdk_function("friend", "DeleteFriend", DeleteFriendParams, None)
    async def delete_friend(self, params: DeleteFriendParams, operation_id: str) -> None:
        """Remove `friendUserID` from the login user's friends (one direction, as OpenIM)."""
        body = {"ownerUserID": self.me, "friendUserID": params.friendUserID}
        await self.core.api.post("/friend/delete_friend", body, operation_id)
        await self.sync_friends(operation_id)

    @sdk_function("friend", "GetFriendList", FriendListParams, list[LocalFriend], read_only=True)
    async def get_friend_list(self, params: FriendListParams, operation_id: str) -> list[LocalFriend]:
        """All friends, optionally without blacklisted ones."""
        return [f for f in self.friends.values() if not (params.filterBlack and f.userID in self.blacks)]

    @sdk_function("friend", "GetSpecifiedFriendsInfo", SpecifiedFriendsParams, list[LocalFriend], read_only=True)
    async def get_specified_friends_info(self, params: SpecifiedFriendsParams, operation_id: str) -> list[LocalFriend]:
        """The friends among `userIDList` (non-friends are left out)."""
        return [
            self.friends[u]
            for u in dict.fromkeys(params.userIDList)
            if u in self.friends and not (params.filterBlack and u in self.blacks)
        ]

    @sdk_function(
        "friend",
        "GetFriendApplicationListAsRecipient",
        ApplicationListAsRecipientParams,
        list[LocalFriendRequest],
    )
    async def get_friend_application_list_as_recipient(
        self, params: ApplicationListAsRecipientParams, operation_id: str
    ) -> list[LocalFriendRequest]:
        """Applications others sent to the login user, newest first, from the server."""
        body = {"userID": self.me, "handleResults": params.handleResults}
        items = await self._page("/friend/get_friend_apply_list", body, "FriendRequests", params, operation_id)
        return [request_from_server(r) for r in items]

    @sdk_function(
        "friend",
        "GetFriendApplicationListAsApplicant",
        ApplicationListAsApplicantParams,
        list[LocalFriendRequest],
    )
    async def get_friend_application_list_as_applicant(
        self, params: ApplicationListAsApplicantParams, operation_id: str
    ) -> list[LocalFriendRequest]:
        """Applications the login user sent, from the server."""
        body = {"userID": self.me, "handleResults": []}
        items = await self._page("/friend/get_self_friend_apply_list", body, "friendRequests", params, operation_id)
        return [request_from_server(r) for r in items]

    async def _page(
        self,
        route: str,
        body: dict[str, Any],
        key: str,
        params: ApplicationListAsApplicantParams | ApplicationListAsRecipientParams,
        operation_id: str,
    ) -> list[dict[str, Any]]:
        items = await self.core.api.page_all(route, body, key, operation_id)
        return items[params.offset : params.offset + params.count] if params.count else items[params.offset :]

    @sdk_function("friend", "SearchFriends", SearchFriendsParams, list[SearchFriendItem], read_only=True)
    async def search_friends(self, params: SearchFriendsParams, operation_id: str) -> list[SearchFriendItem]:
        """Friends whose userID, nickname or remark contains any keyword (case-insensitive)."""
        words = [w.lower() for w in params.keywordList if w]
        out = []
        for f in self.friends.values():
            fields = []
            if params.isSearchUserID:
                fields.append(f.userID)
            if params.isSearchNickname:
                fields.append(f.nickname)
            if params.isSearchRemark:
                fields.append(f.remark)
            if any(w in v.lower() for w in words for v in fields):
                rel = 0 if f.userID in self.blacks else 1
                out.append(SearchFriendItem(**f.model_dump(), relationship=rel))
        return out

    @sdk_function("friend", "SetFriendRemark", SetFriendRemarkParams, None)
    async def set_friend_remark(self, params: SetFriendRemarkParams, operation_id: str) -> None:
        """Set the login user's remark for friend `toUserID` (via /friend/update_friends, as the SDK)."""
        body = {"ownerUserID": self.me, "friendUserIDs": [params.toUserID], "remark": params.remark}
        await self.core.api.post("/friend/update_friends", body, operation_id)
        await self.sync_friends(operation_id)

    @sdk_function("friend", "AddBlack", AddBlackParams, None)
    async def add_black(self, params: AddBlackParams, operation_id: str) -> None:
        """Blacklist `blackUserID`."""
        body = {"ownerUserID": self.me, "blackUserID": params.blackUserID, "ex": params.ex}
        await self.core.api.post("/friend/add_black", body, operation_id)
        await self.sync_blacks(operation_id)

    @sdk_function("friend", "RemoveBlack", RemoveBlackParams, None)
    async def remove_black(self, params: RemoveBlackParams, operation_id: str) -> None:
        """Take `removeUserID` off the blacklist."""
        body = {"ownerUserID": self.me, "blackUserID": params.removeUserID}
        await self.core.api.post("/friend/remove_black", body, operation_id)
        await self.sync_blacks(operation_id)

    @sdk_function("friend", "GetBlackList", NoParams, list[LocalBlack], read_only=True)
    async def get_black_list(self, params: NoParams, operation_id: str) -> list[LocalBlack]:
        """The login user's blacklist."""
        return list(self.blacks.values())
