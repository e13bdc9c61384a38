"""Forward a request to the node that runs its session (cluster mode, issue #6).

A session's core runs on one node, its owner; a load balancer may still send
its calls anywhere. The route that finds the session owned elsewhere raises
:class:`~bridge.errors.NotOwnerError` (421 Misdirected Request, owner in
``X-Bridge-Owner``); this middleware, innermost in the stack, sees that 421
before anything went to the client and replays the request at the owner's
registered URL over the shared httpx pool, with the same body and
``operationID``, then relays the answer. So forwarding needs no route code,
and requests that never meet a non-owned session (SSE, login of a new user)
pay only for teeing their body.

One hop only: a forwarded request carries ``X-Bridge-Forwarded-By``; if it
misses again (the session moved meanwhile) or the owner cannot be reached
(it died and its lease has not lapsed yet), the client gets 503 with
Retry-After and retries, by then the lease has moved or lapsed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.errors import OWNER_HEADER
from bridge.middleware import header, send_problem
from core.protocol.errcodes import ErrCode

__all__ = ["FORWARDED_HEADER", "ForwardStats", "ForwardingMiddleware"]

log = logging.getLogger("openim.bridge.forward")

FORWARDED_HEADER = "X-Bridge-Forwarded-By"
_OWNER = OWNER_HEADER.lower().encode()
# Hop-by-hop and framing headers: the forwarding client and server set their own.
_SKIP = {b"host", b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"te", b"upgrade"}
_SKIP_RESPONSE = {b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server"}


@dataclass(slots=True)
class ForwardStats:
    """Counters for /metrics: requests relayed to an owner, and those that could not be."""

    forwarded: int = 0
    failed: int = 0


class ForwardingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        timeout: float,
        stats: ForwardStats,
        url_ttl: float = 5.0,
        stream_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        # Routes whose bodies are not teed (file uploads): they decide on the owner
        # before reading the body, which is then streamed to the owner unread.
        self.stream_paths = stream_paths
        self.timeout = timeout
        self.stats = stats
        # node id -> (URL, until): one directory read per node every few seconds, not per call.
        self._urls: dict[str, tuple[str, float]] = {}
        self._url_ttl = url_ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        body_done = False
        tee = scope.get("path") not in self.stream_paths

        async def teeing_receive() -> Message:
            nonlocal body_done
            message = await receive()
            if message["type"] == "http.request" and tee:
                chunks.append(message.get("body", b""))
                body_done = not message.get("more_body", False)
            return message

        owner: str | None = None

        async def intercepting_send(message: Message) -> None:
            nonlocal owner
            if message["type"] == "http.response.start" and message["status"] == 421:
                owner = next((v.decode() for k, v in message.get("headers", []) if k == _OWNER), None)
            if owner is None:
                await send(message)

        await self.app(scope, teeing_receive, intercepting_send)
        if owner is None:
            return
        if not tee:
            await self._forward(scope, _rest_of_body(receive), owner, send)
            return
        while not body_done:  # a route may answer before reading the whole body
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            body_done = not message.get("more_body", False)
        await self._forward(scope, b"".join(chunks), owner, send)

    async def _forward(self, scope: Scope, body: bytes | AsyncIterator[bytes], owner: str, send: Send) -> None:
        if await self._relay(scope, body, owner, send):
            self.stats.forwarded += 1
        else:
            self.stats.failed += 1

    async def _relay(self, scope: Scope, body: bytes | AsyncIterator[bytes], owner: str, send: Send) -> bool:
        """Replay the request at `owner`; False when it had to answer 503 instead."""
        state = scope.get("state", {})
        op = state.get("operation_id")
        services = scope["app"].state.services
        pool, http = services.pool, services.http
        unavailable = f"session is served by bridge node {owner}, which"
        if header(scope, FORWARDED_HEADER.lower().encode()) is not None:
            await _unavailable(send, op, "session is moving between bridge nodes; retry")
            return False
        try:
            url = await self._node_url(pool.directory, owner)
        except Exception as exc:  # BridgeError 503 (Redis down)
            await _unavailable(send, op, getattr(exc, "detail", str(exc)))
            return False
        if not url:
            await _unavailable(send, op, f"{unavailable} is not registered (stopped?); retry")
            return False
        target = url.rstrip("/") + scope.get("root_path", "") + scope["path"]
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers: list[tuple[bytes, bytes]] = [(k, v) for k, v in scope["headers"] if k.lower() not in _SKIP]
        headers = [(k, v) for k, v in headers if k.lower() != b"operationid"]
        if op:
            headers.append((b"operationid", op.encode()))
        headers.append((FORWARDED_HEADER.lower().encode(), pool.node_id.encode()))
        request = http.build_request(scope["method"], target, content=body, headers=headers, timeout=self.timeout)
        try:
            resp = await http.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._urls.pop(owner, None)  # it may have come back elsewhere
            log.warning("forward to node %s failed: %s", owner, type(exc).__name__)
            await _unavailable(send, op, f"{unavailable} cannot be reached ({type(exc).__name__}); retry")
            return False
        try:
            # Relayed as it comes (raw bytes under the owner's own framing
            # headers): an answer that streams must not be held until it ends.
            out = [(k.lower(), v) for k, v in resp.headers.raw if k.lower() not in _SKIP_RESPONSE]
            await send({"type": "http.response.start", "status": resp.status_code, "headers": out})
            async for chunk in resp.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await resp.aclose()
        return True

    async def _node_url(self, directory: Any, node_id: str) -> str | None:
        cached = self._urls.get(node_id)
        now = time.monotonic()
        if cached is not None and now < cached[1]:
            return cached[0]
        url: str | None = await directory.node_url(node_id)
        if url:
            self._urls[node_id] = (url, now + self._url_ttl)
        return url


async def _rest_of_body(receive: Receive) -> AsyncIterator[bytes]:
    """The body a route left unread, as it arrives (streamed to the owner)."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _unavailable(send: Send, op: Any, detail: str) -> None:
    await send_problem(send, 503, detail, op, ErrCode.ServerInternalError, {"Retry-After": "1"})
