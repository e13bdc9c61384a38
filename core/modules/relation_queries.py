"""v3.8 friend and group queries that read the core's lists: pages, counts, membership,
and the generic friend setter (open_im_sdk/relation.go, group.go; internal/relation/api.go,
internal/group/api.go).

GetFriendListPage and GetJoinedGroupListPage page the synced lists;
IsJoinGroup and GetUsersInGroup answer from them, as the SDK answers from its
version-synced tables; the unhandled-application counts (the app's badges)
count the server's pending applications newer than `time`, read with the
application-list routes open-im-server v3.8.3 has (its router.go has no
count routes; those came with later patch releases). UpdateFriends is
`/friend/update_friends` with any of pin, remark and ex, then a friend sync.
"""

from __future__ import annotations

from pydantic import Field

from core.errors import SdkError
from core.models import LocalFriend, LocalGroup
from core.modules.base import Module, Params
from core.protocol.constants import PARAM_MAX_LENGTH
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function
from core.untrusted import integer

__all__ = ["RelationQueryModule"]

_ID = Field(min_length=1, max_length=64)


class FriendPageParams(Params):
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=100, ge=1, le=1000)
    filterBlack: bool = False


class GroupPageParams(Params):
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=100, ge=1, le=1000)


class UnhandledCountParams(Params):
    time: int = Field(default=0, ge=0, description="count applications newer than this (ms); 0 = all")


class UpdateFriendsParams(Params):
    """relation.UpdateFriendsReq: a field left out (or null) is not changed."""

    friendUserIDs: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)
    isPinned: bool | None = None
    remark: str | None = Field(default=None, max_length=255)
    ex: str | None = Field(default=None, max_length=4096)


class GroupIDParams(Params):
    groupID: str = _ID


class UsersInGroupParams(Params):
    groupID: str = _ID
    userIDList: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class RelationQueryModule(Module):
    @sdk_function("friend", "GetFriendListPage", FriendPageParams, list[LocalFriend], read_only=True)
    async def get_friend_list_page(self, p: FriendPageParams, operation_id: str) -> list[LocalFriend]:
        """One page of the friend list (in the order friends were added), optionally without blacklisted ones."""
        fm = self.core.friend
        friends = sorted(fm.friends.values(), key=lambda f: (f.createTime, f.userID))
        kept = [f for f in friends if not (p.filterBlack and f.userID in fm.blacks)]
        return kept[p.offset : p.offset + p.count]

    @sdk_function("friend", "GetFriendApplicationUnhandledCount", UnhandledCountParams, int)
    async def get_friend_application_unhandled_count(self, p: UnhandledCountParams, operation_id: str) -> int:
        """Friend applications to the login user still waiting for an answer (the badge)."""
        body = {"userID": self.me}  # v3.8.3 filters nothing: counted here
        pending = await self.core.api.page_all("/friend/get_friend_apply_list", body, "FriendRequests", operation_id)
        return sum(1 for r in pending if integer(r, "handleResult") == 0 and integer(r, "createTime") > p.time)

    @sdk_function("friend", "UpdateFriends", UpdateFriendsParams, None)
    async def update_friends(self, p: UpdateFriendsParams, operation_id: str) -> None:
        """Pin, remark or set ex of friends in one call; OnFriendInfoChanged follows."""
        if p.isPinned is None and p.remark is None and p.ex is None:
            raise SdkError(ErrCode.SdkArgsError, detail="give at least one of isPinned, remark, ex")
        body = {"ownerUserID": self.me, **p.model_dump(exclude_none=True)}
        await self.core.api.post("/friend/update_friends", body, operation_id)
        await self.core.friend.sync_friends(operation_id)

    @sdk_function("group", "GetJoinedGroupListPage", GroupPageParams, list[LocalGroup], read_only=True)
    async def get_joined_group_list_page(self, p: GroupPageParams, operation_id: str) -> list[LocalGroup]:
        """One page of the joined groups (in the order of joining)."""
        return list(self.core.group.groups.values())[p.offset : p.offset + p.count]

    @sdk_function("group", "IsJoinGroup", GroupIDParams, bool, read_only=True)
    async def is_join_group(self, p: GroupIDParams, operation_id: str) -> bool:
        """Is the login user a member of the group?"""
        return p.groupID in self.core.group.groups

    @sdk_function("group", "GetUsersInGroup", UsersInGroupParams, list[str], read_only=True)
    async def get_users_in_group(self, p: UsersInGroupParams, operation_id: str) -> list[str]:
        """The userIDs among `userIDList` that are members (empty when the login user is not in the group)."""
        gm = self.core.group
        if p.groupID not in gm.groups:
            return []
        members = gm.members.get(p.groupID, {})
        return [u for u in dict.fromkeys(p.userIDList) if u in members]

    @sdk_function("group", "GetGroupApplicationUnhandledCount", UnhandledCountParams, int)
    async def get_group_application_unhandled_count(self, p: UnhandledCountParams, operation_id: str) -> int:
        """Join applications to the groups the login user manages still waiting for an answer."""
        body = {"fromUserID": self.me, "groupIDs": []}  # likewise
        pending = await self.core.api.page_all(
            "/group/get_recv_group_applicationList", body, "groupRequests", operation_id
        )
        return sum(1 for r in pending if integer(r, "handleResult") == 0 and integer(r, "reqTime") > p.time)
