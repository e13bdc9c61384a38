"""Client side of the OpenIM message gateway: one WebSocket per logged-in core.

Dials with the SDK's query parameters and `sdkType=js` (JSON envelope, protobuf
`data` as base64; openim-v3.md 2.1-2.4), matches responses to requests by
`msgIncr`, hands pushes (2001) and kicks (2002) to the owner, keeps the socket
alive with WebSocket pings (the Go SDK pings every 24 s against the server's
30 s read deadline, 2.7) and redials with the SDK's 1, 2, 4, 8, 16 s backoff.
Handshake token errors (1501-1507) stop the redial loop (5.9 step 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

from core.errors import SdkError
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import EnvelopeError, WsReq, WsResp, decode_json_resp, encode_json_req
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode
from core.protocol.jsonlimits import loads_bounded
from core.protocol.redact import redacting_logger
from core.supervise import RestartPolicy, stop_tasks, supervise

__all__ = ["GatewayClient", "GatewayListener", "GatewayOptions"]

log = logging.getLogger("openim.core.gateway")
# websockets logs the request line (with `token=`) at DEBUG: redact it.
_WS_LOG = redacting_logger("openim.core.gateway.ws")


class GatewayListener(Protocol):
    async def on_connecting(self) -> None: ...
    async def on_connected(self, first: bool) -> None: ...
    async def on_connect_failed(self, code: int, msg: str) -> None: ...
    async def on_push(self, resp: WsResp) -> None: ...
    async def on_kicked(self) -> None: ...
    async def on_token_error(self, code: int, msg: str) -> None: ...
    def on_bad_frame(self, reason: str) -> None: ...
    async def on_crashed(self, exc: BaseException) -> None: ...


@dataclass(slots=True)
class GatewayOptions:
    request_timeout: float = 10.0
    ping_interval: float = 24.0
    open_timeout: float = 10.0
    backoff: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    max_frame: int = 1 << 20  # the Go SDK's read limit
    extra_query: dict[str, str] = field(default_factory=dict)
    # The connection loop is restarted when it raises, up to this budget (core.supervise).
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)


class GatewayClient:
    def __init__(
        self,
        ws_url: str,
        user_id: str,
        token: str,
        platform_id: int,
        listener: GatewayListener,
        options: GatewayOptions | None = None,
    ) -> None:
        self._url = ws_url
        self._user_id = user_id
        self.token = token
        self._platform_id = platform_id
        self._listener = listener
        self._opt = options or GatewayOptions()
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[WsResp]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._first: asyncio.Future[None] | None = None
        self.connected = asyncio.Event()

    # -- lifecycle -------------------------------------------------------

    async def start(self, operation_id: str) -> None:
        """Start the connection loop; return once the first handshake succeeded.

        Raises SdkError with the handshake's errCode (token errors) or
        10000 NetworkError when the gateway cannot be reached at all.
        """
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        self._task = supervise(
            f"gateway:{self._user_id}",
            lambda: self._run(operation_id, first=not self._first_settled()),
            policy=self._opt.restart_policy,
            on_crash=self._crashed,
            on_give_up=self._listener.on_crashed,
        )
        await self._first

    async def close(self, send_logout: bool = False) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None and send_logout:
            # 2003 LogoutMsg lets the server drop this device's push token (5.2).
            with contextlib.suppress(SdkError):
                await self.request(ReqIdentifier.LOGOUT_MSG, b"", "logout", timeout=2.0)
        if ws is not None:
            await ws.close()
        await stop_tasks([self._task])
        self._fail_pending(SdkError(ErrCode.NetworkError, detail="connection closed"))

    @property
    def running(self) -> bool:
        """The connection loop runs (it redials by itself while it does)."""
        return self._task is not None and not self._task.done()

    async def drop_connection(self) -> None:
        """Close the socket without stopping the loop: it redials (NetworkStatusChanged)."""
        if self._ws is not None:
            await self._ws.close()

    # -- requests --------------------------------------------------------

    async def request(self, ident: int, data: bytes, operation_id: str, timeout: float | None = None) -> bytes:
        ws = self._ws
        if ws is None or not self.connected.is_set():
            raise SdkError(ErrCode.NetworkError, detail="not connected to the message gateway")
        msg_incr = f"{self._user_id}_{secrets.token_hex(8)}"
        fut: asyncio.Future[WsResp] = asyncio.get_running_loop().create_future()
        self._pending[msg_incr] = fut
        req = WsReq(int(ident), self._user_id, operation_id, msg_incr, data)
        try:
            await ws.send(encode_json_req(req))
            resp = await asyncio.wait_for(fut, timeout or self._opt.request_timeout)
        except TimeoutError as exc:
            raise SdkError(ErrCode.NetworkTimeoutError, detail=f"request {ident} timed out") from exc
        except ConnectionClosed as exc:
            raise SdkError(ErrCode.NetworkError, detail="connection closed") from exc
        finally:
            self._pending.pop(msg_incr, None)
        if resp.err_code:
            raise SdkError(resp.err_code, resp.err_msg)
        return resp.data

    # -- internals -------------------------------------------------------

    def _dial_url(self, operation_id: str) -> str:
        query = {
            "sendID": self._user_id,
            "token": self.token,
            "platformID": str(self._platform_id),
            "operationID": operation_id,
            "isBackground": "false",
            "sdkType": "js",
            **self._opt.extra_query,
        }
        return f"{self._url.rstrip('/')}/?{urlencode(query)}"

    def _settle_first(self, exc: BaseException | None) -> None:
        if self._first is not None and not self._first.done():
            if exc is None:
                self._first.set_result(None)
            else:
                self._first.set_exception(exc)

    def _first_settled(self) -> bool:
        return self._first is not None and self._first.done()

    async def _crashed(self, exc: BaseException) -> bool:
        """The connection loop raised (a bug, or a listener that failed): redial,
        unless the first handshake is still awaited (then the login fails)."""
        if not self._first_settled():
            self._settle_first(SdkError(ErrCode.SdkInternalError, detail=f"gateway loop failed: {exc!r}"))
            return False
        if self._stop.is_set():
            return False
        with contextlib.suppress(Exception):
            await self._listener.on_connect_failed(ErrCode.SdkInternalError, repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self._opt.backoff[0])
        return not self._stop.is_set()

    async def _run(self, operation_id: str, first: bool = True) -> None:
        attempt = 0
        while not self._stop.is_set():
            await self._listener.on_connecting()
            try:
                ws = await connect(
                    self._dial_url(operation_id),
                    open_timeout=self._opt.open_timeout,
                    ping_interval=self._opt.ping_interval,
                    ping_timeout=self._opt.ping_interval,
                    max_size=self._opt.max_frame,
                    compression=None,
                    logger=_WS_LOG,
                )
            except InvalidStatus as exc:
                code, msg = _handshake_error(exc)
                if code in TOKEN_ERRORS:
                    self._settle_first(SdkError(code, msg))
                    if not first:
                        await self._listener.on_token_error(code, msg)
                    return
                await self._listener.on_connect_failed(code, msg)
                if first:
                    self._settle_first(SdkError(code, msg, "handshake refused"))
                    return
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                await self._listener.on_connect_failed(ErrCode.NetworkError, repr(exc))
                if first:
                    self._settle_first(SdkError(ErrCode.NetworkError, detail=repr(exc)))
                    return
            else:
                attempt = 0
                self._ws = ws
                self.connected.set()
                self._settle_first(None)
                try:
                    await self._listener.on_connected(first)
                    first = False
                    kicked = await self._read_loop(ws)
                finally:
                    self.connected.clear()
                    self._ws = None
                    if ws.state is not State.CLOSED:  # left by an exception: do not leak the socket
                        with contextlib.suppress(Exception):
                            await ws.close()
                    self._fail_pending(SdkError(ErrCode.NetworkError, detail="connection lost"))
                if kicked:
                    await self._listener.on_kicked()
                    return
            if self._stop.is_set():
                return
            delay = self._opt.backoff[attempt % len(self._opt.backoff)]
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _read_loop(self, ws: ClientConnection) -> bool:
        """Read frames until the socket closes; True when the server kicked us."""
        try:
            async for frame in ws:
                if isinstance(frame, str):
                    continue  # text heartbeat replies carry nothing for us
                try:
                    resp = decode_json_resp(frame)
                except EnvelopeError as exc:
                    log.warning("undecodable frame from gateway user=%s: %s", self._user_id, exc)
                    self._listener.on_bad_frame(str(exc))
                    continue
                if resp.msg_incr and resp.msg_incr in self._pending:
                    fut = self._pending.pop(resp.msg_incr)
                    if not fut.done():
                        fut.set_result(resp)
                elif resp.req_identifier == ReqIdentifier.KICK_ONLINE_MSG:
                    return True
                elif resp.req_identifier in (ReqIdentifier.PUSH_MSG, ReqIdentifier.SUB_USER_ONLINE_STATUS):
                    await self._listener.on_push(resp)
        except ConnectionClosed:
            pass
        return False

    def _fail_pending(self, exc: SdkError) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()


def _handshake_error(exc: InvalidStatus) -> tuple[int, str]:
    """The server answers a refused upgrade with HTTP 200 + `{errCode, errMsg, errDlt}` (2.2)."""
    try:
        body = loads_bounded(bytes(exc.response.body or b"{}"), 8)
        return int(body.get("errCode", ErrCode.NetworkError)), str(body.get("errMsg", ""))
    except (ValueError, TypeError, AttributeError, OverflowError):
        return int(ErrCode.NetworkError), f"HTTP {exc.response.status_code}"
