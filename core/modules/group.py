"""Group functions and OnGroupListener (openim-v3.md 1.5.4, 5.5, 5.10).

As with friends, every change goes through one diff of server truth against
the state this core keeps (joined groups, members of those groups, group
requests), whether a notification, our own call or a sync after reconnect or
revival noticed it first; so each callback fires once and nothing that
happened while parked is missed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import SdkError
from core.models import (
    LocalGroup,
    LocalGroupMember,
    LocalGroupRequest,
)
from core.modules.base import Module, NoParams, Params, diff_by_key, tips_of
from core.modules.group_sync import GroupVersions, fetch_joined_delta, fetch_member_deltas
from core.modules.group_tips import joins_me, removes_me
from core.modules.version_sync import Version, apply_delta
from core.protocol.constants import MEMBER_FILTER_ROLES, PARAM_MAX_LENGTH, GroupStatus, RoleLevel
from core.protocol.constants import GroupContentType as G
from core.protocol.errcodes import ErrCode
from core.protocol.openim_pb2 import MsgData
from core.registry import sdk_function
from core.server_reads import group_from_server, group_request_from_server, member_from_server
from core.untrusted import mapping, text

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["GroupModule"]

# Group notifications that change the group (and its member list) / one member.
_GROUP_CHANGES = frozenset(
    {
        G.GROUP_CREATED,
        G.GROUP_INFO_SET,
        G.MEMBER_QUIT,
        G.GROUP_APPLICATION_ACCEPTED,
        G.GROUP_OWNER_TRANSFERRED,
        G.MEMBER_KICKED,
        G.MEMBER_INVITED,
        G.MEMBER_ENTER,
        G.GROUP_DISMISSED,
        G.GROUP_MUTED,
        G.GROUP_CANCEL_MUTED,
        G.GROUP_INFO_SET_ANNOUNCEMENT,
        G.GROUP_INFO_SET_NAME,
    }
)
_MEMBER_CHANGES = frozenset(
    {
        G.GROUP_MEMBER_MUTED,
        G.GROUP_MEMBER_CANCEL_MUTED,
        G.GROUP_MEMBER_INFO_SET,
        G.GROUP_MEMBER_SET_TO_ADMIN,
        G.GROUP_MEMBER_SET_TO_ORDINARY,
    }
)

GROUP = "OnGroupListener"
GroupID = Field(min_length=1, max_length=64)
UserIDs = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class GroupInfoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groupName: str = Field(min_length=1, max_length=255)
    groupType: int = Field(default=2, description="2 = work group, the only type OpenIM v3 creates")
    faceURL: str = Field(default="", max_length=1024)
    introduction: str = Field(default="", max_length=1024)
    notification: str = Field(default="", max_length=4096)
    ex: str = Field(default="", max_length=4096)
    needVerification: int = Field(default=0, ge=0, le=2)
    lookMemberInfo: int = Field(default=0, ge=0, le=1)
    applyMemberFriend: int = Field(default=0, ge=0, le=1)


class CreateGroupParams(Params):
    memberUserIDs: list[str] = Field(default_factory=list, max_length=PARAM_MAX_LENGTH)
    groupInfo: GroupInfoParams
    adminUserIDs: list[str] = Field(default_factory=list, max_length=PARAM_MAX_LENGTH)
    ownerUserID: str = Field(default="", max_length=64, description="default: the login user")


class GroupIDParams(Params):
    groupID: str = GroupID


class JoinGroupParams(GroupIDParams):
    reqMsg: str = Field(default="", max_length=1024)
    joinSource: int = Field(default=3, ge=1, le=4)
    ex: str = Field(default="", max_length=1024)


class MembersChangeParams(GroupIDParams):
    reason: str = Field(default="", max_length=1024)
    userIDList: list[str] = UserIDs


class TransferParams(GroupIDParams):
    newOwnerUserID: str = Field(min_length=1, max_length=64)


class SetGroupInfoParams(GroupIDParams):
    groupName: str | None = Field(default=None, min_length=1, max_length=255)
    notification: str | None = Field(default=None, max_length=4096)
    introduction: str | None = Field(default=None, max_length=1024)
    faceURL: str | None = Field(default=None, max_length=1024)
    ex: str | None = Field(default=None, max_length=4096)
    needVerification: int | None = Field(default=None, ge=0, le=2)
    lookMemberInfo: int | None = Field(default=None, ge=0, le=1)
    applyMemberFriend: int | None = Field(default=None, ge=0, le=1)


class GroupIDListParams(Params):
    groupIDList: list[str] = UserIDs


class SearchGroupsParams(Params):
    keywordList: list[str] = Field(min_length=1, max_length=10)
    isSearchGroupID: bool = False
    isSearchGroupName: bool = False


class MemberListParams(GroupIDParams):
    filter: int = Field(
        default=0, ge=0, le=5, description="0 all,1 owner,2 admin,3 ordinary,4 admin+ordinary,5 owner+admin"
    )
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=100, ge=1, le=1000)


class SpecifiedMembersParams(GroupIDParams):
    userIDList: list[str] = UserIDs


class SearchMembersParams(GroupIDParams):
    keywordList: list[str] = Field(min_length=1, max_length=10)
    isSearchUserID: bool = False
    isSearchMemberNickname: bool = False
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=100, ge=1, le=1000)


class SetMemberInfoParams(GroupIDParams):
    userID: str = Field(min_length=1, max_length=64)
    nickname: str | None = Field(default=None, max_length=255)
    faceURL: str | None = Field(default=None, max_length=1024)
    # An int32 in sdkws.GroupMemberFullInfo (set_group_member_info sends it as an Int32Value).
    roleLevel: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1, description="60 admin, 20 ordinary")
    ex: str | None = Field(default=None, max_length=4096)


class JoinTimeFilterParams(GroupIDParams):
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=100, ge=1, le=1000)
    joinTimeBegin: int = Field(default=0, ge=0)
    joinTimeEnd: int = Field(default=0, ge=0, description="0 = now")
    filterUserIDList: list[str] = Field(default_factory=list, max_length=PARAM_MAX_LENGTH)


class MuteGroupParams(GroupIDParams):
    isMute: bool


class MuteMemberParams(GroupIDParams):
    userID: str = Field(min_length=1, max_length=64)
    mutedSeconds: int = Field(ge=0, le=366 * 24 * 3600, description="0 = unmute")


class ApplicationListParams(Params):
    groupIDs: list[str] = Field(default_factory=list, max_length=PARAM_MAX_LENGTH)
    handleResults: list[int] = Field(default_factory=list, max_length=3)
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=0, ge=0, le=1000, description="0 = all")


class HandleGroupApplicationParams(GroupIDParams):
    fromUserID: str = Field(min_length=1, max_length=64)
    handleMsg: str = Field(default="", max_length=1024)


_UNSEEN_SIZE = 1000  # groups remembered by _joined_and_left


def _req_key(r: LocalGroupRequest) -> str:
    return f"{r.groupID}\x00{r.userID}"


def _group_key(g: LocalGroup) -> str:
    return g.groupID


def _member_key(m: LocalGroupMember) -> str:
    return m.userID


class GroupModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.groups: dict[str, LocalGroup] = {}
        self.members: dict[str, dict[str, LocalGroupMember]] = {}
        self.requests: dict[str, LocalGroupRequest] = {}
        self._baseline = {"groups": False, "requests": False}
        self.versions = GroupVersions()
        self._lock = asyncio.Lock()
        # Groups a join notification named us in that no sync listed: left already, and
        # the server's log answers the pair as a delete alone (core/modules/group_tips.py).
        self._unseen: OrderedDict[str, LocalGroup] = OrderedDict()

    # -- checkpoint ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "groups": [g.model_dump() for g in self.groups.values()] if self._baseline["groups"] else None,
            "members": {gid: [m.model_dump() for m in ms.values()] for gid, ms in self.members.items()},
            "requests": [r.model_dump() for r in self.requests.values()] if self._baseline["requests"] else None,
            "versions": self.versions.dump(),
            "unseen": [g.model_dump() for g in self._unseen.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("groups") is not None:
            self.groups = {g["groupID"]: LocalGroup.model_validate(g) for g in data["groups"]}
            self._baseline["groups"] = True
        self.members = {
            gid: {m["userID"]: LocalGroupMember.model_validate(m) for m in ms}
            for gid, ms in (data.get("members") or {}).items()
        }
        if data.get("requests") is not None:
            reqs = [LocalGroupRequest.model_validate(r) for r in data["requests"]]
            self.requests = {_req_key(r): r for r in reqs}
            self._baseline["requests"] = True
        self.versions = GroupVersions.load(data.get("versions"))
        unseen = [LocalGroup.model_validate(g) for g in (data.get("unseen") or [])[-_UNSEEN_SIZE:]]
        self._unseen = OrderedDict((g.groupID, g) for g in unseen)

    # -- sync ------------------------------------------------------------

    async def sync(self, operation_id: str) -> None:
        # Login, reconnect, revival: SyncAllJoinedGroupsAndMembers (conversation_msg/notification.go).
        await self.sync_groups(operation_id, all_members=True)
        await self.sync_requests(operation_id)

    async def _emit(self, changes: list[tuple[str, Any]], operation_id: str | None) -> None:
        for callback, obj in changes:
            await self.core.emit(GROUP, callback, obj.model_dump(), operation_id)
        if changes:
            self.core.checkpoint_dirty()

    async def sync_groups(
        self, operation_id: str, members_of: set[str] | None = None, *, all_members: bool = False
    ) -> None:
        """Joined groups by version, then members by version: of every joined group
        with `all_members`, else of new groups and those in `members_of` (core/modules/group_sync.py)."""
        async with self._lock:
            fresh, version = await self._fresh_groups(operation_id)
            quiet = not self._baseline["groups"]
            changes = diff_by_key(
                self.groups, fresh, "OnJoinedGroupAdded", "OnJoinedGroupDeleted", "OnGroupInfoChanged"
            )
            gone = [g.groupID for callback, g in changes if callback == "OnJoinedGroupDeleted"]
            dismissed = await self._dismissed(gone, operation_id) if gone and not quiet else {}
            with_dismissals: list[tuple[str, Any]] = []
            for callback, g in changes:
                if callback == "OnJoinedGroupDeleted":
                    if g.groupID in dismissed:
                        # Detected by sync, whatever told us (1511 or a later revival), as the SDK does (5.7).
                        with_dismissals.append(("OnGroupDismissed", dismissed[g.groupID]))
                    g.memberCount = 0  # as the SDK reports a group it left (5.7)
                with_dismissals.append((callback, g))
            changes = with_dismissals
            self.groups = fresh
            for gid in fresh:
                self._unseen.pop(gid, None)
            self.versions.joined = version
            self._baseline["groups"] = True
            for gid in list(self.members):
                if gid not in fresh:
                    del self.members[gid]
            self.versions.forget(fresh)
            # Members first, so a client reacting to OnJoinedGroupAdded finds them.
            new = {gid for gid in fresh if gid not in self.members}
            wanted = [gid for gid in fresh if all_members or gid in new or (members_of and gid in members_of)]
            await self._sync_members_locked(wanted, operation_id, quiet=new)
            await self._emit([] if quiet else changes, operation_id)
            self._refresh_conversation_names()

    async def _fresh_groups(self, operation_id: str) -> tuple[dict[str, LocalGroup], Version]:
        """IncrSyncJoinGroup: the joined groups after the server's delta (or its full list)."""
        api = self.core.api
        delta = await fetch_joined_delta(api, self.me, self.versions.joined, operation_id)
        if delta.full or not self._baseline["groups"]:
            items = await api.page_all("/group/get_joined_group_list", {"fromUserID": self.me}, "groups", operation_id)
            joined = apply_delta({}, [], map(group_from_server, items), _group_key)
        else:
            joined = apply_delta(self.groups, delta.delete, map(group_from_server, delta.upsert), _group_key)
        return {gid: g for gid, g in joined.items() if g.status != GroupStatus.DISMISSED}, delta.version

    async def _dismissed(self, group_ids: list[str], operation_id: str) -> dict[str, LocalGroup]:
        data = await self.core.api.post("/group/get_groups_info", {"groupIDs": group_ids}, operation_id) or {}
        groups = map(group_from_server, data.get("groupInfos") or [])
        return {g.groupID: g for g in groups if g.status == GroupStatus.DISMISSED}

    async def sync_members(self, group_id: str, operation_id: str) -> None:
        async with self._lock:
            if group_id in self.groups:
                await self._sync_members_locked([group_id], operation_id, quiet=set())

    async def _sync_members_locked(self, group_ids: list[str], operation_id: str, quiet: set[str]) -> None:
        """IncrSyncGroupAndMember: each group's member delta applied and diffed, and the
        group info the answer carries diffed against the joined group (its ExtraData)."""
        if not group_ids:
            return
        asked = {
            gid: self.versions.members.get(gid, Version()) if gid in self.members else Version() for gid in group_ids
        }
        deltas = await fetch_member_deltas(self.core.api, self.me, asked, operation_id)
        for gid, delta in deltas.items():
            if gid not in self.groups:
                continue
            old = self.members.get(gid, {})
            if delta.full or gid not in self.members:
                items = await self.core.api.page_all(
                    "/group/get_group_member_list", {"groupID": gid, "filter": 0}, "members", operation_id
                )
                fresh = apply_delta({}, [], map(member_from_server, items), _member_key)
            else:
                fresh = apply_delta(old, delta.delete, map(member_from_server, delta.upsert), _member_key)
            self.members[gid] = fresh
            self.versions.members[gid] = delta.version
            self.core.checkpoint_dirty()
            changes = diff_by_key(old, fresh, "OnGroupMemberAdded", "OnGroupMemberDeleted", "OnGroupMemberInfoChanged")
            info = group_from_server(delta.group) if delta.group else None
            if (
                info is not None
                and info.groupID == gid
                and info.status != GroupStatus.DISMISSED
                and info != self.groups[gid]
            ):
                self.groups[gid] = info
                changes.append(("OnGroupInfoChanged", info))
            await self._emit([] if gid in quiet else changes, operation_id)
        self._refresh_conversation_names()

    async def sync_requests(self, operation_id: str) -> None:
        async with self._lock:
            api = self.core.api
            received = await api.page_all(
                "/group/get_recv_group_applicationList",
                {"fromUserID": self.me, "groupIDs": [], "handleResults": []},
                "groupRequests",
                operation_id,
            )
            sent = await api.page_all(
                "/group/get_user_req_group_applicationList",
                {"userID": self.me, "groupIDs": [], "handleResults": []},
                "groupRequests",
                operation_id,
            )
            fresh = {_req_key(r): r for r in map(group_request_from_server, received + sent)}
            changes: list[tuple[str, Any]] = []
            for key, new in fresh.items():
                old = self.requests.get(key)
                if old is not None and (old.handleResult, old.reqTime) == (new.handleResult, new.reqTime):
                    continue
                name = {1: "OnGroupApplicationAccepted", -1: "OnGroupApplicationRejected"}.get(
                    new.handleResult, "OnGroupApplicationAdded"
                )
                changes.append((name, new))
            changes += [("OnGroupApplicationDeleted", r) for k, r in self.requests.items() if k not in fresh]
            quiet = not self._baseline["requests"]
            self.requests = fresh
            self._baseline["requests"] = True
            await self._emit([] if quiet else changes, operation_id)

    def _refresh_conversation_names(self) -> None:
        for gid, g in self.groups.items():
            conv = self.core.conversation.convs.get(f"sg_{gid}")
            if conv is not None and (conv.showName, conv.faceURL) != (g.groupName, g.faceURL):
                conv.showName, conv.faceURL = g.groupName, g.faceURL
                self.core.conversation.touch(conv.conversationID)

    async def on_notification(self, msg: MsgData, operation_id: str) -> None:
        """Group notifications 1501..1520 -> the part of the state to re-read (5.10)."""
        ct = msg.contentType
        tips = tips_of(msg)
        gid = text(mapping(tips, "group"), "groupID") or msg.groupID
        if ct in (G.JOIN_GROUP_APPLICATION, G.GROUP_APPLICATION_ACCEPTED, G.GROUP_APPLICATION_REJECTED):
            await self.sync_requests(operation_id)
        if ct in _GROUP_CHANGES:
            known = gid in self.groups
            await self.sync_groups(operation_id, members_of={gid} if gid else None)
            if ct == G.GROUP_DISMISSED and gid in self.groups:
                await self._drop_if_dismissed(gid, operation_id)
            if gid and not known and gid not in self.groups:
                await self._joined_and_left(ct, tips, gid, operation_id)
        elif ct in _MEMBER_CHANGES and gid:
            await self.sync_members(gid, operation_id)
        await self.core.conversation.flush(operation_id)

    async def _drop_if_dismissed(self, gid: str, operation_id: str) -> None:
        """1511 for a group a sync still lists: the server pushes it before it removes the
        members (open-im-server internal/push/push_handler.go defers DismissGroup with
        deleteMember=true) and leaves dismissed groups out of member deltas (group/sync.go),
        so a sync in between sees no change. The group's own status is the authority (the
        tips are not); the removal that follows is a delete of a group no longer listed."""
        async with self._lock:
            dismissed = await self._dismissed([gid], operation_id)
            group = self.groups.pop(gid, None) if gid in dismissed else None
            if group is None:
                return
            self.members.pop(gid, None)
            self.versions.members.pop(gid, None)
            group.memberCount = 0  # as the SDK reports a group it left (5.7)
            await self._emit([("OnGroupDismissed", dismissed[gid]), ("OnJoinedGroupDeleted", group)], operation_id)

    async def _joined_and_left(self, ct: int, tips: dict[str, Any], gid: str, operation_id: str) -> None:
        """A group no sync ever listed: remember a join the tips name us in, and on the
        removal that follows emit what the diff could not (OnJoinedGroupDeleted once)."""
        async with self._lock:
            if joins_me(ct, tips, self.me):
                try:
                    group = group_from_server(mapping(tips, "group"))
                except ValidationError:
                    group = LocalGroup(groupID=gid)
                group.groupID = gid
                self._unseen[gid] = group
                while len(self._unseen) > _UNSEEN_SIZE:
                    self._unseen.popitem(last=False)
            elif removes_me(ct, tips, self.me) and gid in self._unseen:
                group = self._unseen.pop(gid)
                group.memberCount = 0  # as the SDK reports a group it left (5.7)
                gone: list[tuple[str, Any]] = [("OnJoinedGroupDeleted", group)]
                if ct == G.GROUP_DISMISSED:
                    gone.insert(0, ("OnGroupDismissed", group))
                await self._emit(gone, operation_id)

    # -- helpers ----------------------------------------------------------

    def _group(self, group_id: str) -> LocalGroup:
        g = self.groups.get(group_id)
        if g is None:
            raise SdkError(ErrCode.GroupIDNotFoundError, detail=f"not a member of group {group_id}")
        return g

    async def _post(self, route: str, body: dict[str, Any], operation_id: str) -> Any:
        return await self.core.api.post(route, body, operation_id)

    # -- functions: lifecycle ----------------------------------------------

    @sdk_function("group", "CreateGroup", CreateGroupParams, LocalGroup)
    async def create_group(self, p: CreateGroupParams, operation_id: str) -> LocalGroup:
        """Create a group with the login user (or `ownerUserID`) as owner."""
        if p.groupInfo.groupType != 2:
            raise SdkError(10401, "GroupTypeErr", "groupInfo.groupType must be 2 (work group)")
        body = {
            "memberUserIDs": p.memberUserIDs,
            "adminUserIDs": p.adminUserIDs,
            "ownerUserID": p.ownerUserID or self.me,
            # The SDK always names the login user as creator (openim-sdk-core internal/group/api.go
            # CreateGroup); the server stores what it is sent.
            "groupInfo": {**p.groupInfo.model_dump(), "creatorUserID": self.me},
        }
        data = await self._post("/group/create_group", body, operation_id) or {}
        group = group_from_server(data.get("groupInfo") or {})
        await self.sync_groups(operation_id)
        await self.core.conversation.flush(operation_id)
        return self.groups.get(group.groupID, group)

    @sdk_function("group", "JoinGroup", JoinGroupParams, None)
    async def join_group(self, p: JoinGroupParams, operation_id: str) -> None:
        """Ask to join (or join directly when the group needs no verification)."""
        # OpenIM's request names the message `reqMessage` (group.JoinGroupReq).
        body = {
            "groupID": p.groupID,
            "reqMessage": p.reqMsg,
            "joinSource": p.joinSource,
            "ex": p.ex,
            "inviterUserID": self.me,
        }
        await self._post("/group/join_group", body, operation_id)
        await self.sync_groups(operation_id)
        await self.sync_requests(operation_id)

    @sdk_function("group", "QuitGroup", GroupIDParams, None)
    async def quit_group(self, p: GroupIDParams, operation_id: str) -> None:
        """Leave a group (the owner must transfer it first)."""
        await self._post("/group/quit_group", {"groupID": p.groupID, "userID": self.me}, operation_id)
        await self.sync_groups(operation_id)

    @sdk_function("group", "DismissGroup", GroupIDParams, None)
    async def dismiss_group(self, p: GroupIDParams, operation_id: str) -> None:
        """Dismiss a group (owner only)."""
        await self._post("/group/dismiss_group", {"groupID": p.groupID, "deleteMember": False}, operation_id)
        await self.sync_groups(operation_id)

    @sdk_function("group", "InviteUserToGroup", MembersChangeParams, None)
    async def invite_user_to_group(self, p: MembersChangeParams, operation_id: str) -> None:
        """Invite users (they join, or an application is created when the group verifies)."""
        body = {"groupID": p.groupID, "reason": p.reason, "invitedUserIDs": p.userIDList}
        await self._post("/group/invite_user_to_group", body, operation_id)
        await self.sync_members(p.groupID, operation_id)

    @sdk_function("group", "KickGroupMember", MembersChangeParams, None)
    async def kick_group_member(self, p: MembersChangeParams, operation_id: str) -> None:
        """Remove members (owner: anyone; admin: ordinary members)."""
        body = {"groupID": p.groupID, "reason": p.reason, "kickedUserIDs": p.userIDList}
        await self._post("/group/kick_group", body, operation_id)
        await self.sync_members(p.groupID, operation_id)

    @sdk_function("group", "TransferGroupOwner", TransferParams, None)
    async def transfer_group_owner(self, p: TransferParams, operation_id: str) -> None:
        """Make another member the owner."""
        body = {"groupID": p.groupID, "oldOwnerUserID": self.me, "newOwnerUserID": p.newOwnerUserID}
        await self._post("/group/transfer_group", body, operation_id)
        await self.sync_groups(operation_id, members_of={p.groupID})

    @sdk_function("group", "SetGroupInfo", SetGroupInfoParams, None)
    async def set_group_info(self, p: SetGroupInfoParams, operation_id: str) -> None:
        """Change name, notification, introduction, face, ex or the join policy."""
        await self._post("/group/set_group_info_ex", p.model_dump(), operation_id)
        await self.sync_groups(operation_id, members_of={p.groupID})

    @sdk_function("group", "ChangeGroupMute", MuteGroupParams, None)
    async def change_group_mute(self, p: MuteGroupParams, operation_id: str) -> None:
        """Mute or unmute the whole group (ordinary members cannot send)."""
        route = "/group/mute_group" if p.isMute else "/group/cancel_mute_group"
        await self._post(route, {"groupID": p.groupID}, operation_id)
        await self.sync_groups(operation_id, members_of={p.groupID})

    @sdk_function("group", "ChangeGroupMemberMute", MuteMemberParams, None)
    async def change_group_member_mute(self, p: MuteMemberParams, operation_id: str) -> None:
        """Mute a member for `mutedSeconds` (0 unmutes)."""
        if p.mutedSeconds:
            body = {"groupID": p.groupID, "userID": p.userID, "mutedSeconds": p.mutedSeconds}
            await self._post("/group/mute_group_member", body, operation_id)
        else:
            await self._post(
                "/group/cancel_mute_group_member", {"groupID": p.groupID, "userID": p.userID}, operation_id
            )
        await self.sync_members(p.groupID, operation_id)

    @sdk_function("group", "SetGroupMemberInfo", SetMemberInfoParams, None)
    async def set_group_member_info(self, p: SetMemberInfoParams, operation_id: str) -> None:
        """Change a member's group nickname, face, role or ex."""
        await self._post("/group/set_group_member_info", {"members": [p.model_dump()]}, operation_id)
        await self.sync_members(p.groupID, operation_id)

    # -- functions: applications ---------------------------------------------

    async def _respond(self, p: HandleGroupApplicationParams, result: int, operation_id: str) -> None:
        body = {"groupID": p.groupID, "fromUserID": p.fromUserID, "handledMsg": p.handleMsg, "handleResult": result}
        await self._post("/group/group_application_response", body, operation_id)
        await self.sync_requests(operation_id)
        if result == 1:
            await self.sync_members(p.groupID, operation_id)

    @sdk_function("group", "AcceptGroupApplication", HandleGroupApplicationParams, None)
    async def accept_group_application(self, p: HandleGroupApplicationParams, operation_id: str) -> None:
        """Let `fromUserID` into the group (owner or admin)."""
        await self._respond(p, 1, operation_id)

    @sdk_function("group", "RefuseGroupApplication", HandleGroupApplicationParams, None)
    async def refuse_group_application(self, p: HandleGroupApplicationParams, operation_id: str) -> None:
        """Refuse `fromUserID`'s application (owner or admin)."""
        await self._respond(p, -1, operation_id)

    def _page(self, items: list[LocalGroupRequest], p: ApplicationListParams) -> list[LocalGroupRequest]:
        items = [
            r
            for r in items
            if (not p.groupIDs or r.groupID in p.groupIDs)
            and (not p.handleResults or r.handleResult in p.handleResults)
        ]
        items.sort(key=lambda r: -r.reqTime)
        return items[p.offset : p.offset + p.count] if p.count else items[p.offset :]

    @sdk_function("group", "GetGroupApplicationListAsRecipient", ApplicationListParams, list[LocalGroupRequest])
    async def get_group_application_list_as_recipient(
        self, p: ApplicationListParams, operation_id: str
    ) -> list[LocalGroupRequest]:
        """Applications to groups the login user owns or administers."""
        await self.sync_requests(operation_id)
        return self._page([r for r in self.requests.values() if r.userID != self.me], p)

    @sdk_function("group", "GetGroupApplicationListAsApplicant", ApplicationListParams, list[LocalGroupRequest])
    async def get_group_application_list_as_applicant(
        self, p: ApplicationListParams, operation_id: str
    ) -> list[LocalGroupRequest]:
        """Applications the login user sent."""
        await self.sync_requests(operation_id)
        return self._page([r for r in self.requests.values() if r.userID == self.me], p)

    # -- functions: reading ----------------------------------------------------

    @sdk_function("group", "GetJoinedGroupList", NoParams, list[LocalGroup], read_only=True)
    async def get_joined_group_list(self, p: NoParams, operation_id: str) -> list[LocalGroup]:
        """Every group the login user is in."""
        return list(self.groups.values())

    @sdk_function("group", "GetSpecifiedGroupsInfo", GroupIDListParams, list[LocalGroup])
    async def get_specified_groups_info(self, p: GroupIDListParams, operation_id: str) -> list[LocalGroup]:
        """Groups by ID: joined ones from here, others from the server."""
        missing = [g for g in dict.fromkeys(p.groupIDList) if g not in self.groups]
        found = {g: self.groups[g] for g in p.groupIDList if g in self.groups}
        if missing:
            data = await self._post("/group/get_groups_info", {"groupIDs": missing}, operation_id) or {}
            found.update({g.groupID: g for g in map(group_from_server, data.get("groupInfos") or [])})
        return [found[g] for g in dict.fromkeys(p.groupIDList) if g in found]

    @sdk_function("group", "SearchGroups", SearchGroupsParams, list[LocalGroup], read_only=True)
    async def search_groups(self, p: SearchGroupsParams, operation_id: str) -> list[LocalGroup]:
        """Joined groups whose ID or name contains a keyword."""
        words = [w.lower() for w in p.keywordList if w]
        out = []
        for g in self.groups.values():
            fields = ([g.groupID] if p.isSearchGroupID else []) + ([g.groupName] if p.isSearchGroupName else [])
            if any(w in f.lower() for w in words for f in fields):
                out.append(g)
        return out

    def _members(self, group_id: str) -> list[LocalGroupMember]:
        self._group(group_id)
        return sorted(self.members.get(group_id, {}).values(), key=lambda m: (-m.roleLevel, m.joinTime, m.userID))

    @sdk_function("group", "GetGroupMemberList", MemberListParams, list[LocalGroupMember], read_only=True)
    async def get_group_member_list(self, p: MemberListParams, operation_id: str) -> list[LocalGroupMember]:
        """Members of a group, owner and admins first, filtered by role."""
        keep = MEMBER_FILTER_ROLES[p.filter]
        return [m for m in self._members(p.groupID) if not keep or m.roleLevel in keep][p.offset : p.offset + p.count]

    @sdk_function(
        "group", "GetSpecifiedGroupMembersInfo", SpecifiedMembersParams, list[LocalGroupMember], read_only=True
    )
    async def get_specified_group_members_info(
        self, p: SpecifiedMembersParams, operation_id: str
    ) -> list[LocalGroupMember]:
        """The members among `userIDList`."""
        by_id = {m.userID: m for m in self._members(p.groupID)}
        return [by_id[u] for u in dict.fromkeys(p.userIDList) if u in by_id]

    @sdk_function("group", "SearchGroupMembers", SearchMembersParams, list[LocalGroupMember], read_only=True)
    async def search_group_members(self, p: SearchMembersParams, operation_id: str) -> list[LocalGroupMember]:
        """Members whose userID or group nickname contains a keyword."""
        words = [w.lower() for w in p.keywordList if w]
        out = []
        for m in self._members(p.groupID):
            fields = ([m.userID] if p.isSearchUserID else []) + ([m.nickname] if p.isSearchMemberNickname else [])
            if any(w in f.lower() for w in words for f in fields):
                out.append(m)
        return out[p.offset : p.offset + p.count]

    @sdk_function("group", "GetGroupMemberOwnerAndAdmin", GroupIDParams, list[LocalGroupMember], read_only=True)
    async def get_group_member_owner_and_admin(self, p: GroupIDParams, operation_id: str) -> list[LocalGroupMember]:
        """The owner and the admins."""
        return [m for m in self._members(p.groupID) if m.roleLevel in (RoleLevel.OWNER, RoleLevel.ADMIN)]

    @sdk_function(
        "group", "GetGroupMemberListByJoinTimeFilter", JoinTimeFilterParams, list[LocalGroupMember], read_only=True
    )
    async def get_group_member_list_by_join_time_filter(
        self, p: JoinTimeFilterParams, operation_id: str
    ) -> list[LocalGroupMember]:
        """Members who joined between joinTimeBegin and joinTimeEnd (ms), minus `filterUserIDList`."""
        end = p.joinTimeEnd or (1 << 62)
        out = [
            m
            for m in self._members(p.groupID)
            if p.joinTimeBegin <= m.joinTime <= end and m.userID not in p.filterUserIDList
        ]
        return out[p.offset : p.offset + p.count]
