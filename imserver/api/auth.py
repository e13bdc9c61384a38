"""/auth/* (openim-v3.md 1.3; open-im-server internal/rpc/auth/auth.go)."""

from __future__ import annotations

import hmac

from core.protocol.constants import ADMIN_PLATFORM_ID, AppManagerLevel
from core.protocol.errcodes import ErrCode
from imserver.api.request import GoRequest, Int32
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.sdkws import WireModel

__all__ = ["router"]

router = ImRouter("/auth")


class GetAdminTokenReq(GoRequest):
    secret: str = ""
    userID: str = ""

    def check(self) -> None:
        if not self.userID:
            raise ImError(ErrCode.ArgsError, "userID is empty")


class GetAdminTokenResp(WireModel):
    token: str = ""
    expireTimeSeconds: int = 0


class GetUserTokenReq(GoRequest):
    platformID: Int32 = 0
    userID: str = ""


class GetUserTokenResp(WireModel):
    token: str = ""
    expireTimeSeconds: int = 0


class ParseTokenReq(GoRequest):
    token: str = ""

    def check(self) -> None:
        if not self.token:
            raise ImError(ErrCode.ArgsError, "token is empty")


class ParseTokenResp(WireModel):
    userID: str = ""
    platformID: int = 0
    expireTimeSeconds: int = 0


class ForceLogoutReq(GoRequest):
    platformID: Int32 = 0
    userID: str = ""

    def check(self) -> None:
        if not self.userID:
            raise ImError(ErrCode.ArgsError, "userID is empty")
        if not 1 <= self.platformID <= ADMIN_PLATFORM_ID:
            raise ImError(ErrCode.ArgsError, "platformID is invalidate")


@router.post("/get_admin_token")
async def get_admin_token(call: Call, req: GetAdminTokenReq) -> GetAdminTokenResp:
    ctx = call.ctx
    # Constant time: no timing oracle for the secret (surrogatepass: any JSON string encodes).
    if not hmac.compare_digest(req.secret.encode("utf-8", "surrogatepass"), ctx.settings.secret.encode()):
        raise ImError(ErrCode.NoPermissionError, "secret invalid")
    if not ctx.tokens.is_admin(req.userID):
        raise ImError(ErrCode.ArgsError, f"userID is error. userID {req.userID}")
    await ctx.users.check_exist([req.userID])
    token, ttl = await ctx.tokens.mint(req.userID, ADMIN_PLATFORM_ID)
    return GetAdminTokenResp(token=token, expireTimeSeconds=ttl)


@router.post("/get_user_token")
async def get_user_token(call: Call, req: GetUserTokenReq) -> GetUserTokenResp:
    call.require_admin()
    ctx = call.ctx
    if req.platformID == ADMIN_PLATFORM_ID:
        raise ImError(ErrCode.NoPermissionError, "platformID must not be adminPlatformID")
    if ctx.tokens.is_admin(req.userID):
        raise ImError(ErrCode.NoPermissionError, "don't get Admin token")
    user = await ctx.users.require(req.userID)
    if user.appMangerLevel >= AppManagerLevel.APP_NOTIFICATION_ADMIN:
        raise ImError(ErrCode.ArgsError, "app account can`t get token")
    token, ttl = await ctx.tokens.mint(req.userID, req.platformID)
    return GetUserTokenResp(token=token, expireTimeSeconds=ttl)


@router.post("/parse_token")
async def parse_token(call: Call, req: ParseTokenReq) -> ParseTokenResp:
    claims = await call.ctx.tokens.verify(req.token)
    return ParseTokenResp(userID=claims.user_id, platformID=claims.platform_id, expireTimeSeconds=claims.expire_at)


@router.post("/force_logout")
async def force_logout(call: Call, req: ForceLogoutReq) -> None:
    call.require_admin()
    # auth.go forceKickOff: the gateway kicks live connections (2002), then the tokens are marked kicked.
    await call.ctx.hub.kick(req.userID, req.platformID)
    await call.ctx.tokens.mark_kicked(req.userID, req.platformID)
