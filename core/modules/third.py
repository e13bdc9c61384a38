"""The SDK's `third` functions: UploadFile, UpdateFcmToken, SetAppBadge, Logs, UploadLogs
(openim-sdk-core open_im_sdk/third.go, internal/third).

UploadFile takes its content from the bridge: `POST /v1/third/upload_file`
is multipart/form-data (the file plus UploadFileReq's fields), spooled to a
temporary file that `UploadFileParams.source` points at; core/upload.py then
uploads it in parts. Progress goes out as `OnProgress` events of the
`UploadFileCallback` listener with the call's operationID.

Logs writes what the app logs into the bridge's log (named logger
`openim.app`) and keeps the last lines in memory; UploadLogs uploads those
lines as one text file and registers it with `/third/logs/upload`, as the
SDK uploads its zipped log files.
"""

from __future__ import annotations

import io
import logging
import time
from collections import deque
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, Field, PrivateAttr

from core.errors import SdkError
from core.modules.base import Module, Params
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function
from core.upload import Uploader, UploadRequest

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["ThirdModule", "UploadFileParams", "UploadFileResult"]

app_log = logging.getLogger("openim.app")

UPLOAD_LISTENER = "UploadFileCallback"
_LOG_LINES = 1000
_LEVELS = {1: logging.CRITICAL, 2: logging.ERROR, 3: logging.WARNING, 4: logging.INFO, 5: logging.DEBUG,
           6: logging.DEBUG}  # fmt: skip


class UploadFileParams(Params):
    """upload.go UploadFileReq; `filepath` is the client's own name for the file (informative)."""

    name: str = Field(min_length=1, max_length=1000, description="object name; stored under <userID>/")
    contentType: str = Field(default="", max_length=255)
    cause: str = Field(default="", max_length=255)
    uuid: str = Field(default="", max_length=255)
    filepath: str = Field(default="", max_length=2048)
    # The spooled content and its size, set by the bridge's multipart route (never from JSON).
    _source: tuple[IO[bytes], int] | None = PrivateAttr(default=None)

    def with_source(self, file: IO[bytes], size: int) -> UploadFileParams:
        self._source = (file, size)
        return self

    @property
    def source(self) -> tuple[IO[bytes], int] | None:
        return self._source


class UploadFileResult(BaseModel):
    url: str


class FcmTokenParams(Params):
    fcmToken: str = Field(min_length=1, max_length=4096)
    # An int64 in third.FcmUpdateTokenReq: a larger one is no request OpenIM can read (lt, not
    # le 2**63 - 1: the schema says 2**63 exactly as a JSON number, 2**63 - 1 it cannot).
    expireTime: int = Field(default=0, ge=0, lt=2**63, description="unix seconds; 0 = the server's default")


class AppBadgeParams(Params):
    appUnreadCount: int = Field(ge=0, le=2**31 - 1)


class LogsParams(Params):
    logLevel: int = Field(default=4, ge=0, le=6, description="1 fatal ... 5 debug, 6 debug with caller")
    file: str = Field(default="", max_length=256)
    line: int = Field(default=0, ge=0)
    msgs: str = Field(default="", max_length=4096)
    err: str = Field(default="", max_length=4096)
    keyAndValue: list[Any] = Field(default_factory=list, max_length=64)


class UploadLogsParams(Params):
    line: int = Field(default=0, ge=0, le=_LOG_LINES, description="the last `line` lines; 0 = all kept")
    ex: str = Field(default="", max_length=4096)


class ThirdModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._lines: deque[str] | None = None  # made at the first line (760 bytes per core)

    def uploader(self) -> Uploader:
        return Uploader(self.core.api, self.me)

    @sdk_function("third", "UploadFile", UploadFileParams, UploadFileResult, multipart=True)
    async def upload_file(self, p: UploadFileParams, operation_id: str) -> UploadFileResult:
        """Upload a file to OpenIM's object storage (multipart/form-data); its url."""
        if p.source is None:
            raise SdkError(ErrCode.SdkArgsError, detail="send the file as multipart/form-data field `file`")

        async def progress(current: int, size: int) -> None:
            data = {"current": current, "size": size, "progress": current * 100 // size if size else 100}
            await self.core.emit(UPLOAD_LISTENER, "OnProgress", data, operation_id)

        file, size = p.source
        req = UploadRequest(file, size, p.name, p.contentType, p.cause)
        return UploadFileResult(url=await self.uploader().upload(req, operation_id, progress))

    @sdk_function("third", "UpdateFcmToken", FcmTokenParams, None)
    async def update_fcm_token(self, p: FcmTokenParams, operation_id: str) -> None:
        """Register the device's push token (/third/fcm_update_token)."""
        body = {"platformID": self.core.platform_id, "fcmToken": p.fcmToken, "account": self.me,
                "expireTime": p.expireTime}  # fmt: skip
        await self.core.api.post("/third/fcm_update_token", body, operation_id)

    @sdk_function("third", "SetAppBadge", AppBadgeParams, None)
    async def set_app_badge(self, p: AppBadgeParams, operation_id: str) -> None:
        """Tell the server the app's badge count, for offline pushes (/third/set_app_badge)."""
        body = {"userID": self.me, "appUnreadCount": p.appUnreadCount}
        await self.core.api.post("/third/set_app_badge", body, operation_id)

    @sdk_function("third", "Logs", LogsParams, None)
    async def logs(self, p: LogsParams, operation_id: str) -> None:
        """Write an app log line into the bridge's log (logger `openim.app`); kept for UploadLogs."""
        pairs = " ".join(f"{p.keyAndValue[i]}={p.keyAndValue[i + 1]!r}" for i in range(0, len(p.keyAndValue) - 1, 2))
        line = " ".join(
            x for x in (f"{p.file}:{p.line}" if p.file else "", p.msgs, p.err and f"err={p.err}", pairs) if x
        )
        app_log.log(_LEVELS.get(p.logLevel, logging.INFO), "user=%s %s", self.me, line)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        if self._lines is None:
            self._lines = deque(maxlen=_LOG_LINES)
        self._lines.append(f"{stamp} level={p.logLevel} {line}")

    @sdk_function("third", "UploadLogs", UploadLogsParams, None)
    async def upload_logs(self, p: UploadLogsParams, operation_id: str) -> None:
        """Upload the lines logged with Logs as a file and register it (/third/logs/upload)."""
        kept = list(self._lines or ())
        lines = kept[-p.line :] if p.line else kept
        name = f"sdk_log_{self.me}_{time.strftime('%Y%m%d%H%M%S', time.gmtime())}.txt"
        content = ("\n".join(lines) + "\n").encode()
        req = UploadRequest(io.BytesIO(content), len(content), name, "text/plain", "sdklog")
        url = await self.uploader().upload(req, operation_id)
        body = {"platform": self.core.platform_id, "fileURLs": [{"filename": name, "URL": url}],
                "appFramework": "openim-bridge", "version": "", "ex": p.ex}  # fmt: skip
        await self.core.api.post("/third/logs/upload", body, operation_id)
