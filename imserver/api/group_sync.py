"""/group/* version-sync routes (openim-v3.md 1.5.4, 5.9 step 6; open-im-server internal/rpc/group/sync.go)."""

from __future__ import annotations

from imserver.api.request import GoRequest, UInt64, require_fields
from imserver.api.routing import Call, ImRouter
from imserver.services.group_sync import MemberDelta
from imserver.services.sdkws import WireModel
from imserver.services.sdkws_group import GroupInfo, GroupMemberFullInfo

__all__ = ["router"]

router = ImRouter("/group")


class IncrementalJoinGroupsReq(GoRequest):
    userID: str = ""
    versionID: str = ""
    version: UInt64 = 0

    def check(self) -> None:
        require_fields(userID=self.userID)


class IncrementalJoinGroupsResp(WireModel):
    version: int = 0
    versionID: str = ""
    full: bool = False
    delete: list[str] | None = None
    insert: list[GroupInfo] | None = None
    update: list[GroupInfo] | None = None
    sortVersion: int = 0


class FullJoinGroupIDsReq(GoRequest):
    idHash: UInt64 = 0
    userID: str = ""

    def check(self) -> None:
        require_fields(userID=self.userID)


class FullJoinGroupIDsResp(WireModel):
    version: int = 0
    versionID: str = ""
    equal: bool = False
    groupIDs: list[str] | None = None


class IncrementalGroupMembersReq(GoRequest):
    groupID: str = ""
    versionID: str = ""
    version: UInt64 = 0

    def check(self) -> None:
        require_fields(groupID=self.groupID)


class IncrementalGroupMembersResp(WireModel):
    version: int = 0
    versionID: str = ""
    full: bool = False
    delete: list[str] | None = None
    insert: list[GroupMemberFullInfo] | None = None
    update: list[GroupMemberFullInfo] | None = None
    group: GroupInfo | None = None
    sortVersion: int = 0


class BatchIncrementalGroupMembersReq(GoRequest):
    userID: str = ""
    reqList: list[IncrementalGroupMembersReq] | None = None

    def check(self) -> None:
        require_fields(userID=self.userID)


class BatchIncrementalGroupMembersResp(WireModel):
    respList: dict[str, IncrementalGroupMembersResp] | None = None


class FullGroupMemberIDsReq(GoRequest):
    idHash: UInt64 = 0
    groupID: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID)


class FullGroupMemberIDsResp(WireModel):
    version: int = 0
    versionID: str = ""
    equal: bool = False
    userIDs: list[str] | None = None


def _member_resp(delta: MemberDelta) -> IncrementalGroupMembersResp:
    return IncrementalGroupMembersResp(
        version=delta.head.version,
        versionID=delta.head.version_id,
        full=delta.full,
        delete=delta.delete,
        insert=delta.insert,
        update=delta.update,
        group=delta.group,
        sortVersion=delta.sort_version,
    )


@router.post("/get_incremental_join_groups")
async def get_incremental_join_groups(call: Call, req: IncrementalJoinGroupsReq) -> IncrementalJoinGroupsResp:
    call.check_access(req.userID)
    delta = await call.ctx.group_sync.joined_groups(req.userID, req.versionID, req.version)
    return IncrementalJoinGroupsResp(
        version=delta.head.version,
        versionID=delta.head.version_id,
        full=delta.full,
        delete=delta.delete,
        insert=delta.insert,
        update=delta.update,
    )


@router.post("/get_full_join_group_ids")
async def get_full_join_group_ids(call: Call, req: FullJoinGroupIDsReq) -> FullJoinGroupIDsResp:
    call.check_access(req.userID)
    full = await call.ctx.group_sync.joined_group_ids(req.userID, req.idHash)
    return FullJoinGroupIDsResp(
        version=full.head.version, versionID=full.head.version_id, equal=full.equal, groupIDs=full.ids
    )


@router.post("/get_incremental_group_members")
async def get_incremental_group_members(call: Call, req: IncrementalGroupMembersReq) -> IncrementalGroupMembersResp:
    return _member_resp(await call.ctx.group_sync.members(call.op, req.groupID, req.versionID, req.version))


@router.post("/get_incremental_group_members_batch")
async def get_incremental_group_members_batch(
    call: Call, req: BatchIncrementalGroupMembersReq
) -> BatchIncrementalGroupMembersResp:
    # BatchGetIncrementalGroupMember checks no owner; imserver asks the caller to be the userID.
    call.check_access(req.userID)
    wanted = [(r.groupID, r.versionID, r.version) for r in req.reqList or []]
    answers = await call.ctx.group_sync.members_batch(call.op, wanted)
    return BatchIncrementalGroupMembersResp(respList={g: _member_resp(d) for g, d in answers.items()})


@router.post("/get_full_group_member_user_ids")
async def get_full_group_member_user_ids(call: Call, req: FullGroupMemberIDsReq) -> FullGroupMemberIDsResp:
    full = await call.ctx.group_sync.member_ids(call.op, req.groupID, req.idHash)
    return FullGroupMemberIDsResp(
        version=full.head.version, versionID=full.head.version_id, equal=full.equal, userIDs=full.ids
    )
