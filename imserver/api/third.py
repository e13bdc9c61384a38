"""/third/* routes: FCM token, app badge, client log upload (open-im-server internal/api/router.go
thirdGroup; protocol third/third.proto FcmUpdateTokenReq, SetAppBadgeReq, UploadLogsReq)."""

from __future__ import annotations

from imserver.api.request import GoRequest, Int32, Int64, require_fields
from imserver.api.routing import Call, ImRouter
from imserver.services.sdkws import WireModel

__all__ = ["router"]

router = ImRouter("/third")


class FcmUpdateTokenReq(GoRequest):
    platformID: Int32 = 0
    fcmToken: str = ""
    account: str = ""
    expireTime: Int64 = 0

    def check(self) -> None:
        require_fields(fcmToken=self.fcmToken, account=self.account)


class SetAppBadgeReq(GoRequest):
    userID: str = ""
    appUnreadCount: Int32 = 0

    def check(self) -> None:
        require_fields(userID=self.userID)


class FileURL(WireModel):
    filename: str = ""
    URL: str = ""


class UploadLogsReq(GoRequest):
    platform: Int32 = 0
    fileURLs: list[dict[str, str]] | None = None
    appFramework: str = ""
    version: str = ""
    ex: str = ""


@router.post("/fcm_update_token")
async def fcm_update_token(call: Call, req: FcmUpdateTokenReq) -> None:
    call.check_access(req.account)  # third.go FcmUpdateToken: authverify.CheckAccessV3(account)
    call.ctx.third.set_fcm_token(req.account, req.platformID, req.fcmToken, req.expireTime)


@router.post("/set_app_badge")
async def set_app_badge(call: Call, req: SetAppBadgeReq) -> None:
    call.check_access(req.userID)
    call.ctx.third.set_badge(req.userID, req.appUnreadCount)


@router.post("/logs/upload")
async def upload_logs(call: Call, req: UploadLogsReq) -> None:
    files = [(str(f.get("filename", "")), str(f.get("URL", ""))) for f in req.fileURLs or []]
    call.ctx.third.add_logs(call.op.user_id, req.platform, files, req.appFramework, req.version, req.ex)
