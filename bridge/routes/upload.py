"""`POST /v1/third/upload_file`: UploadFile for clients that have only HTTP.

`wx.uploadFile`, a browser's `FormData` and `curl -F` all send
multipart/form-data: the file in the part named `file`, UploadFileReq's
fields (`name`, `contentType`, `cause`, `uuid`) as form fields. The body is
spooled to a temporary file as it arrives (Starlette's multipart parser keeps
at most 1 MiB of a file in memory, the rest on disk) and the core uploads it
from there in parts (core/upload.py), so no file is held in memory whole.

The session is resolved and its owner checked before the body is read: a
call for a session served by another node is forwarded with its body
streamed through (bridge/forward.py), never read here.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from bridge.calls import parse_params
from bridge.errors import BridgeError
from bridge.routes.deps import Services, services, session_from_header
from bridge.routes.functions import PROBLEM_RESPONSES, CallResponse
from bridge.session_handle import SessionHandle
from core.modules.third import UploadFileParams, UploadFileResult
from core.protocol.errcodes import ErrCode
from core.registry import SdkFunction

__all__ = ["UPLOAD_PATHS", "upload_router"]

UPLOAD_PATHS = frozenset({"/v1/third/upload_file"})
_FIELDS = ("name", "contentType", "cause", "uuid", "filepath")

_BODY_SCHEMA = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "name"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "the file's content"},
                    "name": {"type": "string", "description": "object name; stored under <userID>/"},
                    "contentType": {"type": "string", "description": "default: the file part's type"},
                    "cause": {"type": "string"},
                    "uuid": {"type": "string"},
                    "filepath": {"type": "string", "description": "the client's own name for the file"},
                },
            }
        }
    },
    "required": True,
}


def _allowed(content_type: str, allowed: tuple[str, ...]) -> bool:
    ctype = content_type.lower()
    return not allowed or any(ctype == a.lower() or (a.endswith("/") and ctype.startswith(a.lower())) for a in allowed)


def upload_router(fn: SdkFunction) -> APIRouter:
    router = APIRouter()

    async def upload_file(
        request: Request,
        session: SessionHandle = Depends(session_from_header),
        svc: Services = Depends(services),
    ) -> JSONResponse:
        op = str(request.state.operation_id)
        await svc.pool.require_local(session)  # 421 before the body is read: forwarded streaming
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise BridgeError(415, ErrCode.ArgsError, "send the file as multipart/form-data (field `file`)")
        limits = svc.settings
        async with request.form(max_files=1, max_fields=len(_FIELDS), max_part_size=64 * 1024) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise BridgeError(400, ErrCode.ArgsError, "file: a multipart part named `file` is required")
            fields: dict[str, Any] = {k: v for k, v in form.items() if k in _FIELDS and isinstance(v, str)}
            unknown = sorted(set(form.keys()) - {*_FIELDS, "file"})
            if unknown:
                raise BridgeError(400, ErrCode.ArgsError, f"unknown form fields: {', '.join(unknown)}")
            fields.setdefault("contentType", upload.content_type or "")
            if not _allowed(fields["contentType"], limits.upload_content_types):
                raise BridgeError(415, ErrCode.ArgsError, f"content type {fields['contentType']!r} not accepted")
            size = upload.size or 0
            if size > limits.upload_max_bytes:
                raise BridgeError(413, ErrCode.ArgsError, f"file larger than {limits.upload_max_bytes} bytes")
            params = parse_params(fn, fields)
            assert isinstance(params, UploadFileParams)
            params.with_source(upload.file, size)
            with contextlib.suppress(Exception):
                upload.file.seek(0)
            result = await svc.calls.run(session, fn, params, op, op_given=bool(request.state.operation_id_given))
        return JSONResponse({"operationID": op, "data": result})

    router.add_api_route(
        fn.rest_path,
        upload_file,
        methods=["POST"],
        operation_id=fn.operation_id,
        tags=[fn.module],
        summary=fn.summary,
        description=f"OpenIM SDK function `{fn.name}`: multipart/form-data with the file in part `file`. "
        "Progress: `OnProgress` events (listener `UploadFileCallback`) with this call's operationID. "
        "413 past BRIDGE_UPLOAD_MAX_BYTES, 415 for a type outside BRIDGE_UPLOAD_CONTENT_TYPES.",
        response_model=CallResponse[UploadFileResult],
        responses={
            415: {**PROBLEM_RESPONSES[400], "description": "Not multipart, or a content type not accepted"},
            **PROBLEM_RESPONSES,
        },
        openapi_extra={"requestBody": _BODY_SCHEMA},
    )
    return router
