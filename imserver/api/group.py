"""/group/* routes about groups themselves (openim-v3.md 1.5.4; open-im-server internal/api/group.go).

Join requests are in group_request.py, members in group_member.py, version sync in group_sync.py.
Request checks are the protocol's Check() methods (openimsdk/protocol group/group.go).
"""

from __future__ import annotations

from core.protocol.constants import PARAM_MAX_LENGTH
from core.protocol.errcodes import ErrCode
from imserver.api.request import GoRequest, Int32, Int64, Pagination, require_fields, require_page
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.groups import GroupChanges
from imserver.services.sdkws import WireModel
from imserver.services.sdkws_group import GroupInfo

__all__ = ["router"]

router = ImRouter("/group")


class GroupInfoReq(GoRequest):
    """sdkws.GroupInfo as create_group sends it."""

    groupID: str = ""
    groupName: str = ""
    notification: str = ""
    introduction: str = ""
    faceURL: str = ""
    ownerUserID: str = ""
    createTime: Int64 = 0
    memberCount: Int64 = 0
    ex: str = ""
    status: Int32 = 0
    creatorUserID: str = ""
    groupType: Int32 = 0
    needVerification: Int32 = 0
    lookMemberInfo: Int32 = 0
    applyMemberFriend: Int32 = 0
    notificationUpdateTime: Int64 = 0
    notificationUserID: str = ""


class CreateGroupReq(GoRequest):
    memberUserIDs: list[str] | None = None
    groupInfo: GroupInfoReq | None = None
    adminUserIDs: list[str] | None = None
    ownerUserID: str = ""
    sendMessage: bool | None = None

    def check(self) -> None:
        if self.groupInfo is None:
            raise ImError(ErrCode.ArgsError, "groupInfo is empty")
        if not 0 <= self.groupInfo.groupType <= 2:
            raise ImError(ErrCode.ArgsError, "GroupType is invalid")
        require_fields(ownerUserID=self.ownerUserID)
        if len(self.memberUserIDs or []) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many MemberUserIDs, need to be less than 1000")


class GroupInfoResp(WireModel):
    groupInfo: GroupInfo | None = None


class GroupIDsReq(GoRequest):
    groupIDs: list[str] | None = None

    def check(self) -> None:
        if self.groupIDs is None:
            raise ImError(ErrCode.ArgsError, "GroupIDs is empty")
        if len(self.groupIDs) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many GroupIDs, need to be less than 1000")


class GroupsInfoResp(WireModel):
    groupInfos: list[GroupInfo] | None = None


class GroupInfoForSet(GoRequest):
    groupID: str = ""
    groupName: str = ""
    notification: str = ""
    introduction: str = ""
    faceURL: str = ""
    ex: str | None = None
    needVerification: Int32 | None = None
    lookMemberInfo: Int32 | None = None
    applyMemberFriend: Int32 | None = None


class SetGroupInfoReq(GoRequest):
    groupInfoForSet: GroupInfoForSet | None = None

    def check(self) -> None:
        if self.groupInfoForSet is None:
            raise ImError(ErrCode.ArgsError, "GroupInfoForSets is empty")
        require_fields(GroupID=self.groupInfoForSet.groupID)


class SetGroupInfoExReq(GoRequest):
    groupID: str = ""
    groupName: str | None = None
    notification: str | None = None
    introduction: str | None = None
    faceURL: str | None = None
    ex: str | None = None
    needVerification: Int32 | None = None
    lookMemberInfo: Int32 | None = None
    applyMemberFriend: Int32 | None = None

    def check(self) -> None:
        require_fields(groupID=self.groupID)


class JoinedGroupListReq(GoRequest):
    pagination: Pagination | None = None
    fromUserID: str = ""

    def check(self) -> None:
        require_page(self.pagination)
        require_fields(fromUserID=self.fromUserID)


class JoinedGroupListResp(WireModel):
    total: int = 0
    groups: list[GroupInfo] | None = None


class GroupIDReq(GoRequest):
    groupID: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID)


class DismissGroupReq(GroupIDReq):
    deleteMember: bool = False
    sendMessage: bool | None = None


class GetGroupsReq(GoRequest):
    pagination: Pagination | None = None
    groupName: str = ""
    groupID: str = ""

    def check(self) -> None:
        require_page(self.pagination)


class CMSGroup(WireModel):
    groupInfo: GroupInfo | None = None
    groupOwnerUserName: str = ""
    groupOwnerUserID: str = ""


class GetGroupsResp(WireModel):
    total: int = 0
    groups: list[CMSGroup] | None = None


class GroupAbstractInfo(WireModel):
    groupID: str = ""
    groupMemberNumber: int = 0
    groupMemberListHash: int = 0


class GroupAbstractInfoResp(WireModel):
    groupAbstractInfos: list[GroupAbstractInfo] | None = None


# --- groups ------------------------------------------------------------------------------


@router.post("/create_group")
async def create_group(call: Call, req: CreateGroupReq) -> GroupInfoResp:
    call.check_access(req.ownerUserID)
    assert req.groupInfo is not None  # check()
    info = GroupInfo.model_validate(req.groupInfo.model_dump())
    created = await call.ctx.groups.create(
        call.op, info, req.ownerUserID, req.adminUserIDs or [], req.memberUserIDs or [], req.sendMessage
    )
    return GroupInfoResp(groupInfo=created)


@router.post("/get_groups_info")
async def get_groups_info(call: Call, req: GroupIDsReq) -> GroupsInfoResp:
    if not req.groupIDs:
        raise ImError(ErrCode.ArgsError, "groupID is empty")
    return GroupsInfoResp(groupInfos=await call.ctx.groups.infos(req.groupIDs) or None)


@router.post("/get_joined_group_list")
async def get_joined_group_list(call: Call, req: JoinedGroupListReq) -> JoinedGroupListResp:
    call.check_access(req.fromUserID)
    total, groups = await call.ctx.groups.joined(req.fromUserID, require_page(req.pagination))
    return JoinedGroupListResp(total=total, groups=groups or None)


@router.post("/get_groups")
async def get_groups(call: Call, req: GetGroupsReq) -> GetGroupsResp:
    call.require_admin()
    total, found = await call.ctx.groups.search(require_page(req.pagination), req.groupName, req.groupID)
    return GetGroupsResp(
        total=total,
        groups=[
            CMSGroup(groupInfo=g.info, groupOwnerUserName=g.owner_name, groupOwnerUserID=g.owner_user_id) for g in found
        ]
        or None,
    )


@router.post("/set_group_info")
async def set_group_info(call: Call, req: SetGroupInfoReq) -> None:
    s = req.groupInfoForSet
    assert s is not None  # check()
    changes = GroupChanges(
        group_name=s.groupName or None,
        notification=s.notification or None,
        introduction=s.introduction or None,
        face_url=s.faceURL or None,
        ex=s.ex,
        need_verification=s.needVerification,
        look_member_info=s.lookMemberInfo,
        apply_member_friend=s.applyMemberFriend,
    )
    await call.ctx.groups.set_info(call.op, s.groupID, changes, ex_form=False)


@router.post("/set_group_info_ex")
async def set_group_info_ex(call: Call, req: SetGroupInfoExReq) -> None:
    changes = GroupChanges(
        group_name=req.groupName,
        notification=req.notification,
        introduction=req.introduction,
        face_url=req.faceURL,
        ex=req.ex,
        need_verification=req.needVerification,
        look_member_info=req.lookMemberInfo,
        apply_member_friend=req.applyMemberFriend,
    )
    await call.ctx.groups.set_info(call.op, req.groupID, changes, ex_form=True)


@router.post("/mute_group")
async def mute_group(call: Call, req: GroupIDReq) -> None:
    await call.ctx.groups.mute(call.op, req.groupID, True)


@router.post("/cancel_mute_group")
async def cancel_mute_group(call: Call, req: GroupIDReq) -> None:
    await call.ctx.groups.mute(call.op, req.groupID, False)


@router.post("/dismiss_group")
async def dismiss_group(call: Call, req: DismissGroupReq) -> None:
    await call.ctx.groups.dismiss(call.op, req.groupID, req.deleteMember, req.sendMessage)


@router.post("/get_group_abstract_info")
async def get_group_abstract_info(call: Call, req: GroupIDsReq) -> GroupAbstractInfoResp:
    found = await call.ctx.groups.abstracts(call.op, req.groupIDs or [])
    return GroupAbstractInfoResp(
        groupAbstractInfos=[
            GroupAbstractInfo(groupID=a.group_id, groupMemberNumber=a.member_count, groupMemberListHash=a.member_hash)
            for a in found
        ]
    )
