"""/friend/* (openim-v3.md 1.5.3; open-im-server internal/rpc/relation/{friend,black,sync}.go).

Request checks are the protocol's Check() methods (openimsdk/protocol relation/relation.go).
"""

from __future__ import annotations

from core.protocol.constants import PARAM_MAX_LENGTH
from core.protocol.errcodes import ErrCode
from imserver.api.request import (
    GoRequest,
    Int32,
    Int64,
    Pagination,
    UInt64,
    require_fields,
    require_page,
    require_unique,
)
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.sdkws import BlackInfo, FriendInfo, FriendRequest, UserInfo, WireModel

__all__ = ["router"]

router = ImRouter("/friend")


class ApplyToAddFriendReq(GoRequest):
    fromUserID: str = ""
    toUserID: str = ""
    reqMsg: str = ""
    ex: str = ""

    def check(self) -> None:
        require_fields(toUserID=self.toUserID, fromUserID=self.fromUserID)


class RespondFriendApplyReq(GoRequest):
    fromUserID: str = ""
    toUserID: str = ""
    handleResult: Int32 = 0
    handleMsg: str = ""

    def check(self) -> None:
        require_fields(toUserID=self.toUserID, fromUserID=self.fromUserID)


class ApplyListReq(GoRequest):
    userID: str = ""
    pagination: Pagination | None = None
    handleResults: list[Int32] | None = None

    def check(self) -> None:
        require_fields(userID=self.userID)
        require_page(self.pagination)


class ApplyToListResp(WireModel):
    FriendRequests: list[FriendRequest] | None = None
    total: int = 0


class ApplyFromListResp(WireModel):
    friendRequests: list[FriendRequest] | None = None
    total: int = 0


class DesignatedApplyReq(GoRequest):
    fromUserID: str = ""
    toUserID: str = ""

    def check(self) -> None:
        require_fields(ownerUserID=self.fromUserID, toUserID=self.toUserID)


class DesignatedApplyResp(WireModel):
    friendRequests: list[FriendRequest] | None = None


class PageReq(GoRequest):
    pagination: Pagination | None = None
    userID: str = ""

    def check(self) -> None:
        require_page(self.pagination)
        require_fields(userID=self.userID)


class FriendListResp(WireModel):
    friendsInfo: list[FriendInfo] | None = None
    total: int = 0


class DesignatedFriendsReq(GoRequest):
    ownerUserID: str = ""
    friendUserIDs: list[str] | None = None

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID)
        if self.friendUserIDs is None:
            raise ImError(ErrCode.ArgsError, "friendUserIDS is empty")


class DesignatedFriendsResp(WireModel):
    friendsInfo: list[FriendInfo] | None = None


class OwnerFriendReq(GoRequest):
    ownerUserID: str = ""
    friendUserID: str = ""

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID, friendUserID=self.friendUserID)


class SetFriendRemarkReq(OwnerFriendReq):
    remark: str = ""


class UpdateFriendsReq(GoRequest):
    ownerUserID: str = ""
    friendUserIDs: list[str] | None = None
    isPinned: bool | None = None
    remark: str | None = None
    ex: str | None = None

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID)
        if self.friendUserIDs is None:
            raise ImError(ErrCode.ArgsError, "friendUserIDs is empty")
        if len(self.friendUserIDs) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many FriendUserIDs, need to be less than 1000")


class IsFriendReq(GoRequest):
    userID1: str = ""
    userID2: str = ""

    def check(self) -> None:
        require_fields(userID1=self.userID1, userID2=self.userID2)


class IsFriendResp(WireModel):
    inUser1Friends: bool = False
    inUser2Friends: bool = False


class SpecifiedReq(GoRequest):
    ownerUserID: str = ""
    userIDList: list[str] | None = None

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID)
        if len(self.userIDList or []) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many UserIDs, need to be less than 1000")


class IncrementalReq(GoRequest):
    userID: str = ""
    versionID: str = ""
    version: UInt64 = 0

    def check(self) -> None:
        require_fields(userID=self.userID)


class IncrementalFriendsResp(WireModel):
    version: int = 0
    versionID: str = ""
    full: bool = False
    delete: list[str] | None = None
    insert: list[FriendInfo] | None = None
    update: list[FriendInfo] | None = None
    sortVersion: int = 0


class FullFriendIDsReq(GoRequest):
    idHash: UInt64 = 0
    userID: str = ""

    def check(self) -> None:
        require_fields(userID=self.userID)


class FullFriendIDsResp(WireModel):
    version: int = 0
    versionID: str = ""
    equal: bool = False
    userIDs: list[str] | None = None


class UserIDReq(GoRequest):
    userID: str = ""

    def check(self) -> None:
        require_fields(userID=self.userID)


class FriendIDsResp(WireModel):
    friendIDs: list[str] | None = None


class SpecifiedFriendInfo(WireModel):
    userInfo: UserInfo | None = None
    friendInfo: FriendInfo | None = None
    blackInfo: BlackInfo | None = None


class SpecifiedFriendsInfoResp(WireModel):
    infos: list[SpecifiedFriendInfo] | None = None


class ImportFriendReq(GoRequest):
    ownerUserID: str = ""
    friendUserIDs: list[str] | None = None

    def check(self) -> None:
        require_fields(ownerUserID=self.ownerUserID)
        if self.friendUserIDs is None:
            raise ImError(ErrCode.ArgsError, "friendUserIDS is empty")
        if len(self.friendUserIDs) > PARAM_MAX_LENGTH:
            raise ImError(ErrCode.ArgsError, "too many FriendUserIDs, need to be less than 1000")


class UnhandledCountReq(GoRequest):
    userID: str = ""
    time: Int64 = 0


class CountResp(WireModel):
    count: int = 0


# --- requests ---------------------------------------------------------------------------


@router.post("/add_friend")
async def add_friend(call: Call, req: ApplyToAddFriendReq) -> None:
    call.check_access(req.fromUserID)
    await call.ctx.friend_requests.apply(call.op, req.fromUserID, req.toUserID, req.reqMsg, req.ex)


@router.post("/add_friend_response")
async def add_friend_response(call: Call, req: RespondFriendApplyReq) -> None:
    call.check_access(req.toUserID)
    await call.ctx.friend_requests.respond(call.op, req.fromUserID, req.toUserID, req.handleResult, req.handleMsg)


@router.post("/get_friend_apply_list")
async def get_friend_apply_list(call: Call, req: ApplyListReq) -> ApplyToListResp:
    call.check_access(req.userID)
    page = await call.ctx.friend_requests.received(req.userID, req.handleResults or [], require_page(req.pagination))
    return ApplyToListResp(FriendRequests=page.requests, total=page.total)


@router.post("/get_self_friend_apply_list")
async def get_self_friend_apply_list(call: Call, req: ApplyListReq) -> ApplyFromListResp:
    call.check_access(req.userID)
    page = await call.ctx.friend_requests.sent(req.userID, req.handleResults or [], require_page(req.pagination))
    return ApplyFromListResp(friendRequests=page.requests, total=page.total)


@router.post("/get_designated_friend_apply")
async def get_designated_friend_apply(call: Call, req: DesignatedApplyReq) -> DesignatedApplyResp:
    # OpenIM checks no permission here; imserver lets only the two parties (or an admin) look.
    if call.op.user_id not in (req.fromUserID, req.toUserID):
        call.require_admin()
    return DesignatedApplyResp(friendRequests=await call.ctx.friend_requests.between(req.fromUserID, req.toUserID))


@router.post("/get_self_unhandled_apply_count")
async def get_self_unhandled_apply_count(call: Call, req: UnhandledCountReq) -> CountResp:
    call.check_access(req.userID)
    return CountResp(count=await call.ctx.friend_requests.unhandled_count(req.userID, req.time))


# --- friends ----------------------------------------------------------------------------


@router.post("/get_friend_list")
async def get_friend_list(call: Call, req: PageReq) -> FriendListResp:
    call.check_access(req.userID)
    total, friends = await call.ctx.friends.page(req.userID, require_page(req.pagination))
    return FriendListResp(friendsInfo=friends, total=total)


@router.post("/get_designated_friends")
async def get_designated_friends(call: Call, req: DesignatedFriendsReq) -> DesignatedFriendsResp:
    ids = req.friendUserIDs or []
    require_unique(ids, "friend userID")
    call.check_access(req.ownerUserID)
    return DesignatedFriendsResp(friendsInfo=await call.ctx.friends.designated(req.ownerUserID, ids))


@router.post("/delete_friend")
async def delete_friend(call: Call, req: OwnerFriendReq) -> None:
    call.check_access(req.ownerUserID)
    await call.ctx.friends.delete(call.op, req.ownerUserID, req.friendUserID)


@router.post("/set_friend_remark")
async def set_friend_remark(call: Call, req: SetFriendRemarkReq) -> None:
    call.check_access(req.ownerUserID)
    await call.ctx.friends.set_remark(call.op, req.ownerUserID, req.friendUserID, req.remark)


@router.post("/update_friends")
async def update_friends(call: Call, req: UpdateFriendsReq) -> None:
    ids = req.friendUserIDs or []
    call.check_access(req.ownerUserID)
    await call.ctx.friends.update_friends(
        call.op, req.ownerUserID, ids, is_pinned=req.isPinned, remark=req.remark, ex=req.ex
    )


@router.post("/is_friend")
async def is_friend(call: Call, req: IsFriendReq) -> IsFriendResp:
    in1, in2 = await call.ctx.friends.is_friend(req.userID1, req.userID2)
    return IsFriendResp(inUser1Friends=in1, inUser2Friends=in2)


@router.post("/get_friend_id")
async def get_friend_id(call: Call, req: UserIDReq) -> FriendIDsResp:
    call.check_access(req.userID)
    return FriendIDsResp(friendIDs=await call.ctx.friends.friend_ids(req.userID) or None)


@router.post("/get_specified_friends_info")
async def get_specified_friends_info(call: Call, req: SpecifiedReq) -> SpecifiedFriendsInfoResp:
    call.check_access(req.ownerUserID)
    infos = await call.ctx.friends.specified(req.ownerUserID, req.userIDList or [])
    return SpecifiedFriendsInfoResp(
        infos=[SpecifiedFriendInfo(userInfo=i.user, friendInfo=i.friend, blackInfo=i.black) for i in infos]
    )


@router.post("/import_friend")
async def import_friend(call: Call, req: ImportFriendReq) -> None:
    call.require_admin()
    await call.ctx.friends.import_friends(call.op, req.ownerUserID, req.friendUserIDs or [])


@router.post("/get_incremental_friends")
async def get_incremental_friends(call: Call, req: IncrementalReq) -> IncrementalFriendsResp:
    call.check_access(req.userID)
    inc = await call.ctx.friends.incremental(req.userID, req.versionID, req.version)
    return IncrementalFriendsResp(
        version=inc.head.version,
        versionID=inc.head.version_id,
        full=inc.full,
        delete=inc.delete,
        insert=inc.insert,
        update=inc.update,
        sortVersion=inc.sort_version,
    )


@router.post("/get_full_friend_user_ids")
async def get_full_friend_user_ids(call: Call, req: FullFriendIDsReq) -> FullFriendIDsResp:
    call.check_access(req.userID)
    full = await call.ctx.friends.full_ids(req.userID, req.idHash)
    return FullFriendIDsResp(
        version=full.head.version, versionID=full.head.version_id, equal=full.equal, userIDs=full.ids
    )
