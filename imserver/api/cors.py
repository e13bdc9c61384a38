"""CORS exactly like OpenIM's gin middleware (tools mw/gin.go CorsHandler).

Every response gets `Access-Control-Allow-Origin: *` and friends, and any
OPTIONS request is answered 200 with the JSON string "Options Request!",
preflight or not.

Installed only with `ImServerSettings.cors_any_origin` (issue 10): with it, any web
page a user opens can call the API, including `/auth/get_admin_token`.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CorsMiddleware"]

_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Expose-Headers": (
        "Content-Length, Access-Control-Allow-Origin, Access-Control-Allow-Headers,Cache-Control,"
        "Content-Language,Content-Type,Expires,Last-Modified,Pragma,FooBar"
    ),
    "Access-Control-Max-Age": "172800",
    "Access-Control-Allow-Credentials": "false",
}
_OPTIONS_BODY = b'"Options Request!"'


class CorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            headers = [(k.lower().encode(), v.encode()) for k, v in _HEADERS.items()]
            headers += [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", b"18")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": _OPTIONS_BODY})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in _HEADERS.items():
                    headers[key] = value
            await send(message)

        await self.app(scope, receive, send_with_cors)
