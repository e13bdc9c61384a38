"""/group/* routes about members (openim-v3.md 1.5.4; open-im-server internal/api/group.go).

Request checks are the protocol's Check() methods (openimsdk/protocol group/group.go).
"""

from __future__ import annotations

from core.protocol.constants import PARAM_MAX_LENGTH
from core.protocol.errcodes import ErrCode
from imserver.api.request import GoRequest, Int32, Pagination, require_fields, require_page
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.group_members import MemberChanges
from imserver.services.sdkws import WireModel
from imserver.services.sdkws_group import GroupMemberFullInfo

__all__ = ["router"]

router = ImRouter("/group")

_UINT32_MAX = 2**32 - 1


class QuitGroupReq(GoRequest):
    groupID: str = ""
    userID: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID)


class KickGroupMemberReq(GoRequest):
    groupID: str = ""
    kickedUserIDs: list[str] | None = None
    reason: str = ""
    sendMessage: bool | None = None

    def check(self) -> None:
        require_fields(groupID=self.groupID)
        if self.kickedUserIDs is None:
            raise ImError(ErrCode.ArgsError, "kickUserIDs is empty")
        if len(self.kickedUserIDs) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many KickedUserIDs, need to be less than 1000")


class InviteUserToGroupReq(GoRequest):
    groupID: str = ""
    reason: str = ""
    invitedUserIDs: list[str] | None = None
    sendMessage: bool | None = None

    def check(self) -> None:
        require_fields(groupID=self.groupID)
        if self.invitedUserIDs is None:
            raise ImError(ErrCode.ArgsError, "invitedUserIDs is empty")
        if len(self.invitedUserIDs) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many InvitedUserIDs, need to be less than 1000")


class TransferGroupOwnerReq(GoRequest):
    groupID: str = ""
    oldOwnerUserID: str = ""
    newOwnerUserID: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID, oldOwnerUserID=self.oldOwnerUserID, newOwnerUserID=self.newOwnerUserID)


class MuteGroupMemberReq(GoRequest):
    groupID: str = ""
    userID: str = ""
    mutedSeconds: int = 0

    def check(self) -> None:
        require_fields(groupID=self.groupID, userID=self.userID)
        if not 0 < self.mutedSeconds <= _UINT32_MAX:
            raise ImError(ErrCode.ArgsError, "mutedSeconds is empty")


class CancelMuteGroupMemberReq(GoRequest):
    groupID: str = ""
    userID: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID, userID=self.userID)


class SetGroupMemberInfo(GoRequest):
    groupID: str = ""
    userID: str = ""
    nickname: str | None = None
    faceURL: str | None = None
    roleLevel: Int32 | None = None
    ex: str | None = None

    def check(self) -> None:
        require_fields(GroupID=self.groupID, userID=self.userID)


class SetGroupMemberInfoReq(GoRequest):
    members: list[SetGroupMemberInfo] | None = None

    def check(self) -> None:
        if self.members is None:
            raise ImError(ErrCode.ArgsError, "members is empty")
        if len(self.members) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many Members, need to be less than 1000")
        for member in self.members:
            member.check()


class GroupMemberListReq(GoRequest):
    pagination: Pagination | None = None
    groupID: str = ""
    filter: Int32 = 0
    keyword: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID)
        require_page(self.pagination)
        if not 0 <= self.filter <= 5:
            raise ImError(ErrCode.ArgsError, "filter is invalid")


class GroupMemberListResp(WireModel):
    total: int = 0
    members: list[GroupMemberFullInfo] | None = None


class GroupMembersInfoReq(GoRequest):
    groupID: str = ""
    userIDs: list[str] | None = None

    def check(self) -> None:
        require_fields(groupID=self.groupID)
        if self.userIDs is None:
            raise ImError(ErrCode.ArgsError, "userIDs is empty")


class GroupMembersInfoResp(WireModel):
    members: list[GroupMemberFullInfo] | None = None


class GroupIDReq(GoRequest):
    groupID: str = ""

    def check(self) -> None:
        require_fields(GroupID=self.groupID)


class UserIDsResp(WireModel):
    userIDs: list[str] | None = None


@router.post("/quit_group")
async def quit_group(call: Call, req: QuitGroupReq) -> None:
    if req.userID:
        call.check_access(req.userID)
    await call.ctx.group_members.quit(call.op, req.groupID, req.userID or call.op.user_id)


@router.post("/kick_group")
async def kick_group(call: Call, req: KickGroupMemberReq) -> None:
    await call.ctx.group_members.kick(call.op, req.groupID, req.kickedUserIDs or [], req.sendMessage)


@router.post("/invite_user_to_group")
async def invite_user_to_group(call: Call, req: InviteUserToGroupReq) -> None:
    await call.ctx.group_members.invite(call.op, req.groupID, req.invitedUserIDs or [], req.sendMessage)


@router.post("/transfer_group")
async def transfer_group(call: Call, req: TransferGroupOwnerReq) -> None:
    await call.ctx.group_members.transfer(call.op, req.groupID, req.oldOwnerUserID, req.newOwnerUserID)


@router.post("/mute_group_member")
async def mute_group_member(call: Call, req: MuteGroupMemberReq) -> None:
    await call.ctx.group_members.mute(call.op, req.groupID, req.userID, req.mutedSeconds)


@router.post("/cancel_mute_group_member")
async def cancel_mute_group_member(call: Call, req: CancelMuteGroupMemberReq) -> None:
    await call.ctx.group_members.mute(call.op, req.groupID, req.userID, None)


@router.post("/set_group_member_info")
async def set_group_member_info(call: Call, req: SetGroupMemberInfoReq) -> None:
    changes = [
        MemberChanges(m.groupID, m.userID, nickname=m.nickname, face_url=m.faceURL, role_level=m.roleLevel, ex=m.ex)
        for m in req.members or []
    ]
    await call.ctx.group_members.set_info(call.op, changes)


@router.post("/get_group_member_list")
async def get_group_member_list(call: Call, req: GroupMemberListReq) -> GroupMemberListResp:
    total, members = await call.ctx.group_members.page(
        call.op, req.groupID, req.filter, req.keyword, require_page(req.pagination)
    )
    return GroupMemberListResp(total=total, members=members or None)


@router.post("/get_group_members_info")
async def get_group_members_info(call: Call, req: GroupMembersInfoReq) -> GroupMembersInfoResp:
    members = await call.ctx.group_members.infos(call.op, req.groupID, req.userIDs or [])
    return GroupMembersInfoResp(members=members or None)


@router.post("/get_group_member_user_id")
async def get_group_member_user_id(call: Call, req: GroupIDReq) -> UserIDsResp:
    return UserIDsResp(userIDs=await call.ctx.group_members.user_ids(call.op, req.groupID) or None)
