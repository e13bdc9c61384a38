"""REST face of the SDK function table: `POST /v1/{module}/{method}` per function.

Nothing here is written per function: the endpoint, its body model, its
response model and its OpenAPI operationId all come from core's registry.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Body, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from bridge.errors import PROBLEM_SCHEMA, BridgeError, status_for
from bridge.pool import SessionHandle
from bridge.routes.deps import Services, services, session_from_header
from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.registry import SdkFunction

__all__ = ["PROBLEM_RESPONSES", "AcceptedResponse", "CallResponse", "function_router"]

T = TypeVar("T")


class CallResponse(BaseModel, Generic[T]):
    operationID: str
    data: T


class AcceptedResponse(BaseModel):
    operationID: str


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}}}
    for status, text in (
        (400, "Bad input: the detail names the field"),
        (401, "No, unknown or ended session (errCode says why: 1506 kicked, 1501 token expired, ...)"),
        (409, "Conflict with the current state (OpenIM errCode)"),
        (413, "Request body too large"),
        (502, "Upstream OpenIM server error or unreachable"),
        (503, "Session pool full; retry after Retry-After seconds"),
    )
}


def _parse(fn: SdkFunction, body: Any) -> BaseModel:
    try:
        return fn.params.model_validate({} if body is None else body)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise BridgeError(400, ErrCode.ArgsError, details) from exc


async def _run(svc: Services, handle: SessionHandle, fn: SdkFunction, params: BaseModel, op: str) -> Any:
    async with svc.pool.use(handle, op) as core:
        result = await core.call(fn, params, op)
    return jsonable_encoder(result)


def _make_endpoint(fn: SdkFunction) -> Any:
    async def endpoint(request: Request, session: SessionHandle, body: Any, svc: Services) -> JSONResponse:
        op = str(request.state.operation_id)
        params = _parse(fn, body)
        if "respond-async" in request.headers.get("prefer", "").lower():
            task = asyncio.create_task(_deliver_async(svc, session, fn, params, op))
            svc.background.add(task)
            task.add_done_callback(svc.background.discard)
            return JSONResponse({"operationID": op}, status_code=202, headers={"Preference-Applied": "respond-async"})
        if request.state.operation_id_given and not fn.read_only:
            result = await svc.idempotency.run(
                session.session_id, op, fn.rest_path, lambda: _run(svc, session, fn, params, op)
            )
        else:
            result = await _run(svc, session, fn, params, op)
        return JSONResponse({"operationID": op, "data": result})

    # FastAPI reads the signature: give it the function's own body model so
    # the OpenAPI schema and docs are exact. A model whose fields all have
    # defaults may be sent without a body.
    required = any(f.is_required() for f in fn.params.model_fields.values())
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
            inspect.Parameter(
                "session",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=SessionHandle,
                default=Depends(session_from_header),
            ),
            inspect.Parameter(
                "body",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=fn.params if required else fn.params | None,
                default=Body(...) if required else Body(None),
            ),
            inspect.Parameter(
                "svc", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Services, default=Depends(services)
            ),
        ]
    )
    endpoint.__name__ = fn.method
    return endpoint


async def _deliver_async(svc: Services, handle: SessionHandle, fn: SdkFunction, params: BaseModel, op: str) -> None:
    """Prefer: respond-async — the outcome arrives as a `callResult` event."""
    outcome: dict[str, Any] = {"operationID": op, "function": fn.name}
    try:
        outcome.update(errCode=0, errMsg="", data=await _run(svc, handle, fn, params, op))
    except SdkError as exc:
        outcome.update(errCode=exc.code, errMsg=exc.msg, detail=exc.detail, status=status_for(exc.code))
    except BridgeError as exc:
        outcome.update(errCode=exc.code, errMsg=exc.msg, detail=exc.detail, status=exc.status)
    await svc.pool.append_event(handle, "callResult", outcome)


def function_router(functions: dict[str, SdkFunction]) -> APIRouter:
    router = APIRouter()
    for fn in functions.values():
        router.add_api_route(
            fn.rest_path,
            _make_endpoint(fn),
            methods=["POST"],
            operation_id=fn.operation_id,
            tags=[fn.module],
            summary=fn.summary,
            description=f"OpenIM SDK function `{fn.name}`. Send `Prefer: respond-async` to get 202 and the "
            "result as a `callResult` event.",
            response_model=CallResponse[fn.result],  # type: ignore[name-defined]
            responses={
                202: {"model": AcceptedResponse, "description": "Accepted (Prefer: respond-async)"},
                **PROBLEM_RESPONSES,
            },
        )
    return router
