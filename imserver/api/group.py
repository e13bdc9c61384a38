"""/group/* sync routes for a server without groups (openim-v3.md 1.5.4).

imserver has no groups yet. The official clients still run group sync at
login (`get_incremental_join_groups`, `get_full_join_group_ids`, paged
`get_joined_group_list`), so these answer "member of no group" with a real,
stable version log (one per user, never changing) instead of 404.
"""

from __future__ import annotations

from imserver.api.request import GoRequest, Pagination, UInt64, require_fields, require_page
from imserver.api.routing import Call, ImRouter
from imserver.services.sdkws import WireModel
from imserver.services.versions import id_hash

__all__ = ["router"]

router = ImRouter("/group")

_JOINED_GROUPS = "groups"


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
    insert: list[dict[str, object]] | None = None
    update: list[dict[str, object]] | None = None
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


class JoinedGroupListReq(GoRequest):
    pagination: Pagination | None = None
    fromUserID: str = ""

    def check(self) -> None:
        require_page(self.pagination)
        require_fields(fromUserID=self.fromUserID)


class JoinedGroupListResp(WireModel):
    total: int = 0
    groups: list[dict[str, object]] | None = None


@router.post("/get_incremental_join_groups")
async def get_incremental_join_groups(call: Call, req: IncrementalJoinGroupsReq) -> IncrementalJoinGroupsResp:
    call.check_access(req.userID)
    async with call.ctx.sessionmaker.begin() as session:
        delta = await call.ctx.versions.delta(session, _JOINED_GROUPS, req.userID, req.versionID, req.version)
    return IncrementalJoinGroupsResp(version=delta.head.version, versionID=delta.head.version_id, full=delta.full)


@router.post("/get_full_join_group_ids")
async def get_full_join_group_ids(call: Call, req: FullJoinGroupIDsReq) -> FullJoinGroupIDsResp:
    call.check_access(req.userID)
    async with call.ctx.sessionmaker.begin() as session:
        head = await call.ctx.versions.head(session, _JOINED_GROUPS, req.userID)
    return FullJoinGroupIDsResp(version=head.version, versionID=head.version_id, equal=req.idHash == id_hash([]))


@router.post("/get_joined_group_list")
async def get_joined_group_list(call: Call, req: JoinedGroupListReq) -> JoinedGroupListResp:
    call.check_access(req.fromUserID)
    return JoinedGroupListResp()
