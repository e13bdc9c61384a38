"""/user/* (openim-v3.md 1.5.1; open-im-server internal/rpc/user/user.go, online.go)."""

from __future__ import annotations

from core.protocol.errcodes import ErrCode
from imserver.api.request import GoRequest, Int32, Int64, Pagination, require_page, require_unique
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.presence import OnlineStatus, UserOnlineDetail
from imserver.services.sdkws import UserInfo, WireModel
from imserver.services.users import UserChanges

__all__ = ["router"]

router = ImRouter("/user")


class UserInfoReq(GoRequest):
    userID: str = ""
    nickname: str = ""
    faceURL: str = ""
    ex: str = ""
    createTime: Int64 = 0
    appMangerLevel: Int32 = 0
    globalRecvMsgOpt: Int32 = 0

    def wire(self) -> UserInfo:
        return UserInfo(**self.model_dump())


class UserInfoWithExReq(GoRequest):
    """sdkws.UserInfoWithEx: wrapper fields, None = unchanged."""

    userID: str = ""
    nickname: str | None = None
    faceURL: str | None = None
    ex: str | None = None
    globalRecvMsgOpt: Int32 | None = None


class UserRegisterReq(GoRequest):
    users: list[UserInfoReq] | None = None

    def check(self) -> None:
        if self.users is None:
            raise ImError(ErrCode.ArgsError, "users are empty")
        for user in self.users:
            if not user.userID or ":" in user.userID:
                raise ImError(ErrCode.ArgsError, "userID is illegal")
        if any(not user.nickname for user in self.users):
            raise ImError(ErrCode.ArgsError, "user name is empty")


class UpdateUserInfoReq(GoRequest):
    userInfo: UserInfoReq | None = None

    def check(self) -> None:
        if self.userInfo is None:
            raise ImError(ErrCode.ArgsError, "UserInfo is empty")
        if not self.userInfo.userID:
            raise ImError(ErrCode.ArgsError, "UserID is empty")


class UpdateUserInfoExReq(GoRequest):
    userInfo: UserInfoWithExReq | None = None

    def check(self) -> None:
        if self.userInfo is None:
            raise ImError(ErrCode.ArgsError, "userInfo is empty")
        if not self.userInfo.userID:
            raise ImError(ErrCode.ArgsError, "userID is empty")


class SetGlobalRecvMessageOptReq(GoRequest):
    userID: str = ""
    globalRecvMsgOpt: Int32 = 0

    def check(self) -> None:
        if not 0 <= self.globalRecvMsgOpt <= 2:
            raise ImError(ErrCode.ArgsError, "GlobalRecvMsgOpt is invalid")
        if not self.userID:
            raise ImError(ErrCode.ArgsError, "UserID is empty")


class UserIDsReq(GoRequest):
    userIDs: list[str] | None = None

    def check(self) -> None:
        if self.userIDs is None:
            raise ImError(ErrCode.ArgsError, "UserIDs is empty")


class GetUsersInfoResp(WireModel):
    usersInfo: list[UserInfo] | None = None


class GetAllUserIDReq(GoRequest):
    pagination: Pagination | None = None


class GetAllUserIDResp(WireModel):
    total: int = 0
    userIDs: list[str] | None = None


class GetUsersReq(GoRequest):
    pagination: Pagination | None = None
    userID: str = ""
    nickName: str = ""


class GetUsersResp(WireModel):
    total: int = 0
    users: list[UserInfo] | None = None


class AccountCheckReq(GoRequest):
    checkUserIDs: list[str] | None = None

    def check(self) -> None:
        if self.checkUserIDs is None:
            raise ImError(ErrCode.ArgsError, "CheckUserIDs is empty")


class SingleUserStatus(WireModel):
    userID: str = ""
    accountStatus: int = 0


class AccountCheckResp(WireModel):
    results: list[SingleUserStatus] | None = None


class SubscribeUsersStatusReq(GoRequest):
    userID: str = ""
    userIDs: list[str] | None = None
    genre: Int32 = 0

    def check(self) -> None:
        if not self.userID:
            raise ImError(ErrCode.ArgsError, "UserID is empty")
        if self.userIDs is None:
            raise ImError(ErrCode.ArgsError, "subscription User-list is empty")
        if self.genre not in (1, 2):
            raise ImError(ErrCode.ArgsError, "invalid subscription type parameter")


class UserIDReq(GoRequest):
    userID: str = ""

    def check(self) -> None:
        if not self.userID:
            raise ImError(ErrCode.ArgsError, "userID is empty")


class GetUserStatusReq(GoRequest):
    userID: str = ""
    userIDs: list[str] | None = None

    def check(self) -> None:
        if not self.userIDs:
            raise ImError(ErrCode.ArgsError, "UserIDs is empty")


class StatusListResp(WireModel):
    statusList: list[OnlineStatus] | None = None


@router.post("/user_register")
async def user_register(call: Call, req: UserRegisterReq) -> None:
    call.require_admin()
    users = req.users or []
    if not users:
        raise ImError(ErrCode.ArgsError, "users is empty")
    await call.ctx.users.register([u.wire() for u in users])


@router.post("/update_user_info")
async def update_user_info(call: Call, req: UpdateUserInfoReq) -> None:
    """Deprecated in OpenIM: sets the non-empty / non-zero fields (convert.UserPb2DBMap)."""
    info = req.userInfo
    assert info is not None
    call.check_access(info.userID)
    changes = UserChanges(
        nickname=info.nickname or None,
        face_url=info.faceURL or None,
        ex=info.ex or None,
        global_recv_msg_opt=info.globalRecvMsgOpt or None,
        # OpenIM lets any user raise their own appMangerLevel here; imserver only lets admins.
        app_manger_level=(info.appMangerLevel or None) if call.op.is_admin else None,
    )
    await call.ctx.users.update(call.op, info.userID, changes)


@router.post("/update_user_info_ex")
async def update_user_info_ex(call: Call, req: UpdateUserInfoExReq) -> None:
    info = req.userInfo
    assert info is not None
    call.check_access(info.userID)
    changes = UserChanges(
        nickname=info.nickname, face_url=info.faceURL, ex=info.ex, global_recv_msg_opt=info.globalRecvMsgOpt
    )
    await call.ctx.users.update(call.op, info.userID, changes)


# router.go registers it as /user/set_global_msg_recv_opt (what the SDKs call);
# /user/set_global_recv_msg_opt is the RPC-style name openim-v3.md 1.5.1 uses.
@router.post("/set_global_recv_msg_opt")
@router.post("/set_global_msg_recv_opt")
async def set_global_recv_msg_opt(call: Call, req: SetGlobalRecvMessageOptReq) -> None:
    call.check_access(req.userID)
    await call.ctx.users.update(call.op, req.userID, UserChanges(global_recv_msg_opt=req.globalRecvMsgOpt))


@router.post("/get_users_info")
async def get_users_info(call: Call, req: UserIDsReq) -> GetUsersInfoResp:
    return GetUsersInfoResp(usersInfo=await call.ctx.users.find(req.userIDs or []))


@router.post("/get_all_users_uid")
async def get_all_users_uid(call: Call, req: GetAllUserIDReq) -> GetAllUserIDResp:
    total, ids = await call.ctx.users.all_user_ids(require_page(req.pagination))
    return GetAllUserIDResp(total=total, userIDs=ids or None)


@router.post("/get_users")
async def get_users(call: Call, req: GetUsersReq) -> GetUsersResp:
    total, users = await call.ctx.users.search(require_page(req.pagination), req.userID, req.nickName)
    return GetUsersResp(total=total, users=users)


@router.post("/account_check")
async def account_check(call: Call, req: AccountCheckReq) -> AccountCheckResp:
    ids = req.checkUserIDs or []
    require_unique(ids, "userID")
    call.require_admin()
    registered = await call.ctx.users.registered(ids)
    return AccountCheckResp(
        results=[SingleUserStatus(userID=u, accountStatus=1 if u in registered else 0) for u in ids] or None
    )


@router.post("/get_users_online_status")
async def get_users_online_status(call: Call, req: UserIDsReq) -> list[UserOnlineDetail]:
    call.require_admin()
    return call.ctx.presence.details(req.userIDs or [])


@router.post("/subscribe_users_status")
async def subscribe_users_status(call: Call, req: SubscribeUsersStatusReq) -> StatusListResp:
    # OpenIM 3.8.3 answers an empty response; imserver also reports the subscribed users'
    # current status (live updates come from the gateway's 2005 subscription).
    call.check_access(req.userID)
    if req.genre != 1:
        return StatusListResp()
    return StatusListResp(statusList=call.ctx.presence.statuses(req.userIDs or []) or None)


@router.post("/get_subscribe_users_status")
async def get_subscribe_users_status(call: Call, req: UserIDReq) -> StatusListResp:
    # OpenIM 3.8.3 GetSubscribeUsersStatus keeps no subscriptions and answers empty.
    call.check_access(req.userID)
    return StatusListResp()


@router.post("/get_users_status")
async def get_users_status(call: Call, req: GetUserStatusReq) -> StatusListResp:
    return StatusListResp(statusList=call.ctx.presence.statuses(req.userIDs or []))
