"""The imserver HTTP API as an ASGI app: `create_api_app(ctx)`.

The OpenIM routes (`ImRouter.post`, one module per OpenIM route group under
imserver/api/) are served by `ImApi`, a pure ASGI app: one dict look-up on the
exact path, the envelope sent as one body (issue 14: Starlette's router scan,
FastAPI's middleware stack and the Request/Response objects were most of the
API's CPU per call). Everything else (the s3 object URLs, with path parameters)
goes to a FastAPI fallback. Unknown paths and wrong methods answer like gin:
404 "404 page not found".
"""

from __future__ import annotations

import zlib

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

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
from imserver.api.routing import Endpoint

__all__ = ["ImApi", "create_api_app"]

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


# gin's gzip middleware (gin-contrib/gzip, DefaultCompression: level 6 in Go's compress/flate)
# compresses any size when asked; the headers are starlette GZipMiddleware's, in its order.
_GZIP_LEVEL = 6
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Accept-Encoding")
_GZIP = (b"content-encoding", b"gzip")


class ImApi:
    """The OpenIM routes by exact path (POST only, as gin's router.POST), else `fallback`."""

    def __init__(self, ctx: ApiContext, exact: dict[str, Endpoint], fallback: ASGIApp) -> None:
        self.ctx = ctx
        self._exact = exact
        self._fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._exact.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if endpoint is None:
            await self._fallback(scope, receive, send)
            return
        body = await endpoint(self.ctx, scope, receive)
        if _accepts_gzip(scope):
            # A window no larger than the body compresses exactly as well (no match reaches
            # further back), and zlib's full 32 KiB window plus its hash tables cost ~0.15 ms
            # to allocate per response, more than compressing a small envelope (issue 14).
            window = min(zlib.MAX_WBITS, max(9, (len(body) - 1).bit_length()))
            compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 16 + window)
            body = compressor.compress(body) + compressor.flush()
            headers = [(b"content-length", str(len(body)).encode()), _JSON, _VARY, _GZIP]
        else:
            headers = [(b"content-length", str(len(body)).encode()), _JSON, _VARY]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _accepts_gzip(scope: Scope) -> bool:
    # starlette GZipMiddleware: "gzip" in the (first) Accept-Encoding header.
    for key, value in scope["headers"]:
        if key == b"accept-encoding":
            return b"gzip" in value
    return False


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return PlainTextResponse("404 page not found", status_code=404)


def create_api_app(ctx: ApiContext) -> ASGIApp:
    fallback = FastAPI(title="imserver", openapi_url=None, docs_url=None, redoc_url=None)
    fallback.state.ctx = ctx
    exact: dict[str, Endpoint] = {}
    for router in _ROUTERS:
        exact.update(router.exact)
        fallback.router.routes.extend(router.routes)
    fallback.add_exception_handler(404, _not_found)
    fallback.add_exception_handler(405, _not_found)
    # gin gzip middleware (compressionLevel 0 -> DefaultCompression): any size, when asked.
    fallback.add_middleware(GZipMiddleware, minimum_size=1)
    app: ASGIApp = ImApi(ctx, exact, fallback)
    if ctx.settings.cors_any_origin:  # off unless told: see ImServerSettings (issue 10)
        app = CorsMiddleware(app)
    return app
