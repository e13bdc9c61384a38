"""/object/* routes: OpenIM's multipart object upload (open-im-server internal/api/router.go
objectGroup; internal/rpc/third/s3.go), served from imserver/objects.py.

The JSON routes need a token like every POST; the signed part PUTs and the
content GETs are authorised by their signature, as presigned storage URLs
are; `GET /object/<name>` is public and redirects to a fresh signed URL
(internal/api/third.go ObjectRedirect).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from core.protocol.errcodes import ErrCode
from imserver.api.context import ApiContext
from imserver.api.request import GoRequest, Int32, Int64, require_fields
from imserver.api.routing import Call, ImRouter
from imserver.errors import ImError
from imserver.services.sdkws import WireModel

__all__ = ["router"]

router = ImRouter("/object")


class PartLimitReq(GoRequest):
    pass


class PartLimitResp(WireModel):
    minPartSize: int = 0
    maxPartSize: int = 0
    maxNumSize: int = 0


class PartSizeReq(GoRequest):
    size: Int64 = 0


class PartSizeResp(WireModel):
    size: int = 0


class InitiateReq(GoRequest):
    hash: str = ""
    size: Int64 = 0
    partSize: Int64 = 0
    maxParts: Int32 = 0
    cause: str = ""
    name: str = ""
    contentType: str = ""
    urlPrefix: str = ""

    def check(self) -> None:
        require_fields(hash=self.hash, name=self.name)


class InitiateResp(WireModel):
    url: str = ""
    upload: dict[str, object] | None = None


class AuthSignReq(GoRequest):
    uploadID: str = ""
    partNumbers: list[Int32] | None = None

    def check(self) -> None:
        require_fields(uploadID=self.uploadID)


class AuthSignResp(WireModel):
    url: str = ""
    query: list[dict[str, object]] | None = None
    header: list[dict[str, object]] | None = None
    parts: list[dict[str, object]] | None = None


class CompleteReq(GoRequest):
    uploadID: str = ""
    parts: list[str] | None = None
    name: str = ""
    contentType: str = ""
    cause: str = ""
    urlPrefix: str = ""

    def check(self) -> None:
        require_fields(uploadID=self.uploadID, name=self.name)


class UrlResp(WireModel):
    url: str = ""


class AccessURLReq(GoRequest):
    name: str = ""
    query: dict[str, str] | None = None

    def check(self) -> None:
        require_fields(name=self.name)


class AccessURLResp(WireModel):
    url: str = ""
    expireTime: int = 0


def _check_name(call: Call, name: str) -> None:
    """internal/rpc/third/tool.go checkUploadName: relative, bounded, under the uploader's userID/."""
    if name.startswith("/"):
        raise ImError(ErrCode.ArgsError, "name cannot start with `/`")
    if len(name) > 1024 or any(part in ("", ".", "..") for part in name.split("/")):
        raise ImError(ErrCode.ArgsError, "invalid object name")
    if not call.op.is_admin and not name.startswith(call.op.user_id + "/"):
        raise ImError(ErrCode.NoPermissionError, f"name must start with `{call.op.user_id}/`")


@router.post("/part_limit")
async def part_limit(call: Call, req: PartLimitReq) -> PartLimitResp:
    lim = call.ctx.objects.limit
    return PartLimitResp(minPartSize=lim.min_part_size, maxPartSize=lim.max_part_size, maxNumSize=lim.max_num_size)


@router.post("/part_size")
async def part_size(call: Call, req: PartSizeReq) -> PartSizeResp:
    return PartSizeResp(size=call.ctx.objects.part_size(req.size))


@router.post("/initiate_multipart_upload")
async def initiate_multipart_upload(call: Call, req: InitiateReq) -> InitiateResp:
    _check_name(call, req.name)
    store = call.ctx.objects
    upload = store.initiate(req.hash, req.size, req.partSize, req.maxParts)
    if upload is None:  # the content is stored already: name it, answer its URL
        store.set_object(req.name, req.hash, req.contentType)
        return InitiateResp(url=store.object_url(req.name, req.urlPrefix))
    return InitiateResp(upload=upload)


@router.post("/auth_sign")
async def auth_sign(call: Call, req: AuthSignReq) -> AuthSignResp:
    sign = call.ctx.objects.sign_parts(req.uploadID, list(req.partNumbers or []))
    return AuthSignResp(parts=sign["parts"])


@router.post("/complete_multipart_upload")
async def complete_multipart_upload(call: Call, req: CompleteReq) -> UrlResp:
    _check_name(call, req.name)
    store = call.ctx.objects
    key = await store.complete(req.uploadID, list(req.parts or []))
    store.set_object(req.name, key, req.contentType)
    return UrlResp(url=store.object_url(req.name, req.urlPrefix))


@router.post("/access_url")
async def access_url(call: Call, req: AccessURLReq) -> AccessURLResp:
    url, expires = call.ctx.objects.access_url(req.name)
    return AccessURLResp(url=url, expireTime=expires)


_STATUS = {ErrCode.RecordNotFoundError: 404, ErrCode.NoPermissionError: 403}


def _plain(exc: ImError) -> Response:
    return PlainTextResponse(exc.detail or exc.code.name, status_code=_STATUS.get(exc.code, 400))


async def _put_part(request: Request) -> Response:
    """The signed part PUT (what MinIO's presigned UploadPart URL does)."""
    ctx: ApiContext = request.app.state.ctx
    upload_id, number = request.path_params["upload_id"], request.path_params["number"]
    try:
        ctx.objects.check_signature(request.url.path, request.query_params.get("e", ""),
                                    request.query_params.get("s", ""))  # fmt: skip
        await ctx.objects.put_part(upload_id, int(number), request.stream())
    except ImError as exc:
        return _plain(exc)
    return Response(status_code=200)


async def _get_content(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    try:
        ctx.objects.check_signature(request.url.path, request.query_params.get("e", ""),
                                    request.query_params.get("s", ""))  # fmt: skip
        info = ctx.objects.lookup_digest(request.path_params["digest"])
        path = ctx.objects.content_path(info)
    except ImError as exc:
        return _plain(exc)
    return FileResponse(path, media_type=info.content_type or "application/octet-stream")


async def _redirect(request: Request) -> Response:
    """internal/api/third.go ObjectRedirect: 302 to the object's access URL."""
    ctx: ApiContext = request.app.state.ctx
    try:
        url, _ = ctx.objects.access_url(request.path_params["name"])
    except ImError as exc:
        return _plain(exc)
    return RedirectResponse(url, status_code=302)


router.routes.extend(
    [
        Route("/object-upload/{upload_id}/{number:int}", _put_part, methods=["PUT"]),
        Route("/object-data/{digest}", _get_content, methods=["GET", "HEAD"]),
        Route("/object/{name:path}", _redirect, methods=["GET", "HEAD"]),
    ]
)
