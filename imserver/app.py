"""The imserver HTTP API as an ASGI app: `create_api_app(ctx)`.

Routes are plain Starlette routes built by `ImRouter` (one module per OpenIM
route group under imserver/api/); FastAPI is the container. Unknown paths and
wrong methods answer like gin: 404 "404 page not found".
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from imserver.api import (
    auth,
    conversation,
    friend,
    friend_black,
    group,
    group_member,
    group_request,
    group_sync,
    jssdk,
    msg,
    s3,
    third,
    user,
    user_commands,
)
from imserver.api.context import ApiContext
from imserver.api.cors import CorsMiddleware

__all__ = ["create_api_app"]

_ROUTERS = (
    auth.router,
    user.router,
    friend.router,
    friend_black.router,
    group.router,
    group_member.router,
    group_request.router,
    group_sync.router,
    conversation.router,
    msg.router,
    jssdk.router,
    s3.router,
    third.router,
    user_commands.router,
)


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return PlainTextResponse("404 page not found", status_code=404)


def create_api_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(title="imserver", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    for router in _ROUTERS:
        app.router.routes.extend(router.routes)
    app.add_exception_handler(404, _not_found)
    app.add_exception_handler(405, _not_found)
    # gin gzip middleware (compressionLevel 0 -> DefaultCompression): any size, when asked.
    app.add_middleware(GZipMiddleware, minimum_size=1)
    if ctx.settings.cors_any_origin:  # off unless told: see ImServerSettings (issue 10)
        app.add_middleware(CorsMiddleware)
    return app
