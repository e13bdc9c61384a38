"""/friend/* blacklist routes (openim-v3.md 1.5.3; open-im-server internal/rpc/relation/black.go)."""

from __future__ import annotations

from imserver.api.friend import IncrementalReq, PageReq, SpecifiedReq
from imserver.api.request import GoRequest, require_fields, require_page
from imserver.api.routing import Call, ImRouter
from imserver.services.sdkws import BlackInfo, WireModel

__all__ = ["router"]

router = ImRouter("/friend")


class BlackReq(GoRequest):
    ownerUserID: str = ""
    blackUserID: str = ""
    ex: str = ""

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID, blackUserID=self.blackUserID)


class BlackListResp(WireModel):
    blacks: list[BlackInfo] | None = None
    total: int = 0


class IncrementalBlacksResp(WireModel):
    version: int = 0
    versionID: str = ""
    full: bool = False
    delete: list[str] | None = None
    insert: list[BlackInfo] | None = None
    update: list[BlackInfo] | None = None


@router.post("/add_black")
async def add_black(call: Call, req: BlackReq) -> None:
    call.check_access(req.ownerUserID)
    await call.ctx.blacks.add(call.op, req.ownerUserID, req.blackUserID, req.ex)


@router.post("/remove_black")
async def remove_black(call: Call, req: BlackReq) -> None:
    call.check_access(req.ownerUserID)
    await call.ctx.blacks.remove(call.op, req.ownerUserID, req.blackUserID)


@router.post("/get_black_list")
async def get_black_list(call: Call, req: PageReq) -> BlackListResp:
    call.check_access(req.userID)
    total, blacks = await call.ctx.blacks.page(req.userID, require_page(req.pagination))
    return BlackListResp(blacks=blacks, total=total)


@router.post("/get_specified_blacks")
async def get_specified_blacks(call: Call, req: SpecifiedReq) -> BlackListResp:
    call.check_access(req.ownerUserID)
    blacks = await call.ctx.blacks.specified(req.ownerUserID, req.userIDList or [])
    return BlackListResp(blacks=blacks, total=len(blacks))


@router.post("/get_incremental_blacks")
async def get_incremental_blacks(call: Call, req: IncrementalReq) -> IncrementalBlacksResp:
    call.check_access(req.userID)
    inc = await call.ctx.blacks.incremental(req.userID, req.versionID, req.version)
    return IncrementalBlacksResp(
        version=inc.head.version,
        versionID=inc.head.version_id,
        full=inc.full,
        delete=inc.delete,
        insert=inc.insert,
        update=inc.update,
    )
