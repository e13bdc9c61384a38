"""One structured log line per request: operationID, userID, platform, function, status, ms.

Pure ASGI, inside OperationIDMiddleware (so the operationID is known) and
outside the body checks (so their 400/413 answers are logged too). The user
and platform come from the request state the session dependency fills in;
a stream's line is written when it ends, with its duration.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.logs import log_fields

__all__ = ["AccessLogMiddleware"]

log = logging.getLogger("openim.bridge.access")
_QUIET = ("/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            state = scope.get("state", {})
            route = scope.get("route")
            path: str = scope.get("path", "")
            fields = {
                "operationID": state.get("operation_id"),
                "method": scope.get("method"),
                "path": path,
                "function": getattr(route, "operation_id", None) or state.get("function"),
                "status": status or None,  # None: the client left before an answer
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if state.get("user_id"):
                fields["userID"] = state["user_id"]
            if state.get("platform_id") is not None:
                fields["platformID"] = state["platform_id"]
            level = logging.DEBUG if path.startswith(_QUIET) else logging.INFO
            log.log(level, "request", extra=log_fields(**fields))
