"""REST face of the SDK function table: `POST /v1/{module}/{method}` per function.

Nothing here is written per function: the endpoint, its body model, its
response model and its OpenAPI operationId all come from core's registry.
"""

from __future__ import annotations

import inspect
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from bridge.calls import parse_params
from bridge.openapi_spec import problem_responses
from bridge.routes.deps import Services, services, session_from_header
from bridge.routes.dispatch import answer
from bridge.session_handle import SessionHandle
from core.registry import SdkFunction

__all__ = ["PROBLEM_RESPONSES", "CallResponse", "function_router"]

T = TypeVar("T")


class CallResponse(BaseModel, Generic[T]):
    operationID: str
    data: T


# What a function call can answer besides 200/202 (bridge/errors.py status_for).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = problem_responses(400, 401, 403, 404, 409, 413, 502, 503, 504)


def _make_endpoint(fn: SdkFunction) -> Any:
    # Valid calls are answered by bridge/routes/dispatch.py before FastAPI routes
    # them; this route serves the spec and what the fast path hands back (bad input).
    async def endpoint(request: Request, session: SessionHandle, body: Any, svc: Services) -> Response:
        done = await answer(request, svc, session, fn, parse_params(fn, body))
        return Response(done.body, done.status, {k.decode(): v.decode() for k, v in done.headers}, "application/json")

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


def function_router(functions: dict[str, SdkFunction]) -> APIRouter:
    router = APIRouter()
    for fn in functions.values():
        if fn.multipart:
            continue  # bridge/routes/upload.py
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
                202: {
                    "description": 'Accepted (Prefer: respond-async): the body is `{"operationID"}` and the '
                    "outcome comes as a `callResult` event with that operationID"
                },
                **PROBLEM_RESPONSES,
            },
        )
    return router
