"""/group/* routes about join requests (openim-v3.md 1.5.4; open-im-server internal/api/group.go).

Request checks are the protocol's Check() methods (openimsdk/protocol group/group.go).
"""

from __future__ import annotations

from core.protocol.constants import PARAM_MAX_LENGTH
from core.protocol.errcodes import ErrCode
from imserver.api.request import GoRequest, Int32, Int64, Pagination, require_fields, require_page
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.sdkws import WireModel
from imserver.services.sdkws_group import GroupRequest

__all__ = ["router"]

router = ImRouter("/group")


class JoinGroupReq(GoRequest):
    groupID: str = ""
    reqMessage: str = ""
    joinSource: Int32 = 0
    inviterUserID: str = ""
    ex: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID)
        if not 1 <= self.joinSource <= 4:
            raise ImError(ErrCode.ArgsError, "joinSource is invalid")
        if self.joinSource == 2:
            require_fields(inviterUserID=self.inviterUserID)


class ApplicationResponseReq(GoRequest):
    groupID: str = ""
    fromUserID: str = ""
    handledMsg: str = ""
    handleResult: Int32 = 0

    def check(self) -> None:
        require_fields(groupID=self.groupID, fromUserID=self.fromUserID)
        if not -1 <= self.handleResult <= 1:
            raise ImError(ErrCode.ArgsError, "handleResult is invalid")


class RecvApplicationListReq(GoRequest):
    pagination: Pagination | None = None
    fromUserID: str = ""
    groupIDs: list[str] | None = None
    handleResults: list[Int32] | None = None

    def check(self) -> None:
        require_page(self.pagination)
        require_fields(fromUserID=self.fromUserID)


class UserReqApplicationListReq(GoRequest):
    pagination: Pagination | None = None
    userID: str = ""
    groupIDs: list[str] | None = None
    handleResults: list[Int32] | None = None

    def check(self) -> None:
        require_fields(UserID=self.userID)
        require_page(self.pagination)


class ApplicationListResp(WireModel):
    total: int = 0
    groupRequests: list[GroupRequest] | None = None


class GroupUsersReqApplicationListReq(GoRequest):
    groupID: str = ""
    userIDs: list[str] | None = None

    def check(self) -> None:
        require_fields(GroupID=self.groupID)
        if self.userIDs is None:
            raise ImError(ErrCode.ArgsError, "UserID is empty")
        if len(self.userIDs) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many UserIDs, need to be less than 1000")


class SpecifiedUserGroupRequestInfoReq(GoRequest):
    groupID: str = ""
    userID: str = ""

    def check(self) -> None:
        require_fields(groupID=self.groupID, userID=self.userID)


class UnhandledCountReq(GoRequest):
    userID: str = ""
    time: Int64 = 0

    def check(self) -> None:
        require_fields(userID=self.userID)


class CountResp(WireModel):
    count: int = 0


@router.post("/join_group")
async def join_group(call: Call, req: JoinGroupReq) -> None:
    # JoinGroup takes the applicant from inviterUserID (the SDK puts itself there).
    applicant = req.inviterUserID or call.op.user_id
    call.check_access(applicant)
    await call.ctx.group_requests.join(call.op, req.groupID, applicant, req.reqMessage, req.joinSource, req.ex)


@router.post("/group_application_response")
async def group_application_response(call: Call, req: ApplicationResponseReq) -> None:
    await call.ctx.group_requests.respond(call.op, req.groupID, req.fromUserID, req.handledMsg, req.handleResult)


@router.post("/get_recv_group_applicationList")
async def get_recv_group_application_list(call: Call, req: RecvApplicationListReq) -> ApplicationListResp:
    call.check_access(req.fromUserID)
    page = await call.ctx.group_requests.received(
        call.op, req.fromUserID, req.groupIDs or [], req.handleResults or [], require_page(req.pagination)
    )
    return ApplicationListResp(total=page.total, groupRequests=page.requests)


@router.post("/get_user_req_group_applicationList")
async def get_user_req_group_application_list(call: Call, req: UserReqApplicationListReq) -> ApplicationListResp:
    call.check_access(req.userID)
    page = await call.ctx.group_requests.sent(
        req.userID, req.groupIDs or [], req.handleResults or [], require_page(req.pagination)
    )
    return ApplicationListResp(total=page.total, groupRequests=page.requests)


@router.post("/get_group_users_req_application_list")
async def get_group_users_req_application_list(call: Call, req: GroupUsersReqApplicationListReq) -> ApplicationListResp:
    requests = await call.ctx.group_requests.of_users(call.op, req.groupID, req.userIDs or [])
    return ApplicationListResp(total=len(requests), groupRequests=requests or None)


@router.post("/get_specified_user_group_request_info")
async def get_specified_user_group_request_info(
    call: Call, req: SpecifiedUserGroupRequestInfoReq
) -> ApplicationListResp:
    requests = await call.ctx.group_requests.of_users(call.op, req.groupID, [req.userID])
    return ApplicationListResp(total=len(requests), groupRequests=requests or None)


@router.post("/get_group_application_unhandled_count")
async def get_group_application_unhandled_count(call: Call, req: UnhandledCountReq) -> CountResp:
    call.check_access(req.userID)
    return CountResp(count=await call.ctx.group_requests.unhandled_count(req.userID, req.time))
