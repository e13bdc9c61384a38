"""Client side of the OpenIM message gateway: one WebSocket per logged-in core.

Dials with the SDK's query parameters, `sdkType=js` (JSON envelope, protobuf
`data` as base64; openim-v3.md 2.1-2.4) and `compression=gzip`, as the official SDK
always does (openim-sdk-core internal/interaction/long_conn_mgr.go): every binary
frame both ways is then one gzip stream of the encoded envelope
(open-im-server internal/msggateway/client.go). Matches responses to requests by
`msgIncr`, hands pushes (2001) and kicks (2002) to the owner, keeps the socket
alive with WebSocket pings (the Go SDK pings every 24 s against the server's
30 s read deadline, 2.7) and redials with the SDK's 1, 2, 4, 8, 16 s backoff.
Given a shared `Keepalive` (core/transport/keepalive.py, the bridge's pool has
one), that one ticker pings; without one, a timer per connection does.
Handshake token errors (1501-1507) stop the redial loop (5.9 step 8).

Frame limits: the server drops a client whose frame exceeds 51200 bytes
(internal/msggateway/constant.go maxMessageSize, applied with SetReadLimit), so a
request that would not fit is refused here, before sending, with MsgTooLargeError.
A frame from the server over our own read limit ends the connection (closed with
1009, as websockets did); the requests waiting then fail with ReadLimitError, which
tells the caller to ask for less (the message pulls halve their batch).

The WebSocket itself is ours (core/transport/gateway_conn.py, issue 14): frames are
parsed in the protocol's data_received, answers resolve their request there, and
the connection loop wakes only for pushes, kicks and the end of the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol
from urllib.parse import urlencode

from core.errors import SdkError
from core.light_event import LightEvent
from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import (
    EnvelopeError,
    FrameTooLargeError,
    WsReq,
    WsResp,
    decode_json_resp,
    encode_json_req,
    gunzip,
    gzip_bytes,
    is_gzip,
)
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode
from core.protocol.jsonlimits import loads_bounded
from core.supervise import RestartPolicy, stop_tasks, supervise
from core.transport.gateway_conn import ConnectionClosed, GatewayConnection, State, open_connection
from core.transport.keepalive import Keepalive
from core.transport.wsframes import MESSAGE_TOO_BIG
from core.transport.wshandshake import HandshakeError, HandshakeRefused

__all__ = ["GatewayClient", "GatewayListener", "GatewayOptions", "ReadLimitError", "dial_url"]

log = logging.getLogger("openim.core.gateway")
# Pushes waiting for the connection loop past which the socket stops being read (websockets'
# max_queue was 16 frames); reading resumes once the loop has caught up.
_INBOX_HIGH = 16


class GatewayListener(Protocol):
    async def on_connecting(self) -> None: ...
    async def on_connected(self, first: bool) -> None: ...
    async def on_connect_failed(self, code: int, msg: str) -> None: ...
    async def on_push(self, resp: WsResp) -> None: ...
    async def on_kicked(self) -> None: ...
    async def on_token_error(self, code: int, msg: str) -> None: ...
    def on_bad_frame(self, reason: str) -> None: ...
    async def on_crashed(self, exc: BaseException) -> None: ...


class ReadLimitError(SdkError):
    """The connection dropped because a frame from the gateway exceeded our read limit.

    errCode NetworkError, as for any lost connection: the request itself may have
    been served. A pull that gets it asks for fewer messages next time.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            ErrCode.NetworkError, detail=f"a frame from the message gateway exceeded the read limit of {limit} bytes"
        )
        self.limit = limit


@dataclass(slots=True)
class GatewayOptions:
    request_timeout: float = 10.0
    ping_interval: float = 24.0
    open_timeout: float = 10.0
    backoff: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    # Read limit for one frame as it arrives (compressed). The Go SDK reads at most
    # 1 MiB; ours covers a 100-message pull of messages that each filled a
    # 51200-byte request frame, so pulls of long texts rarely have to shrink.
    max_frame: int = 8 << 20
    # A gzip frame may inflate to at most this (zip bombs); past it, as past max_frame.
    max_inflated_frame: int = 16 << 20
    # The server's read limit for our frames: internal/msggateway/constant.go maxMessageSize.
    max_send_frame: int = 51200
    # compression=gzip, as openim-sdk-core always asks (long_conn_mgr.go IsCompression).
    compression: bool = True
    # gzip level of request frames: Go's gzip.DefaultCompression, as the SDK's CompressWithPool.
    compression_level: int = 6
    extra_query: dict[str, str] = field(default_factory=dict)
    # The connection loop is restarted when it raises, up to this budget (core.supervise).
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    # One ticker for every connection of the process (no keep-alive task per connection);
    # None: a timer per connection, pinging every ping_interval.
    keepalive: Keepalive | None = None


class _Ended(Enum):
    CLOSED = "closed"
    KICKED = "kicked"
    READ_LIMIT = "read limit"  # a frame over max_frame / max_inflated_frame


class GatewayClient:
    __slots__ = (
        "_ended",
        "_first",
        "_inbox",
        "_limit_hit",
        "_listener",
        "_opt",
        "_own_timer",
        "_pending",
        "_pinged_at",
        "_platform_id",
        "_stop",
        "_task",
        "_url",
        "_user_id",
        "_waiter",
        "_ws",
        "background",
        "connected",
        "read_limit_drops",
        "token",
    )

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
        self._ws: GatewayConnection | None = None
        self._pending: dict[str, asyncio.Future[WsResp]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = LightEvent()
        self._first: asyncio.Future[None] | None = None
        self.connected = LightEvent()
        # Connections ended by a frame over our read limit (metrics, tests).
        self.read_limit_drops = 0
        self._limit_hit = self._opt.max_frame
        # Per connection: why it ended (set from a callback), pushes waiting for the loop
        # (None while none do), the loop's wake-up future while it waits.
        self._ended: _Ended | None = None
        self._inbox: list[WsResp] | None = None
        self._waiter: asyncio.Future[None] | None = None
        # Keep-alive without a shared ticker: a timer, and when it last pinged.
        self._own_timer: asyncio.TimerHandle | None = None
        self._pinged_at: float | None = None
        # The app's foreground state, told to the server at every dial (and by 2004 meanwhile).
        self.background = False

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
            # 2003 LogoutMsg lets the server drop this device's push token (5.2). Its data is a
            # push.DelUserPushTokenReq, whose Check() wants both IDs (internal/msggateway
            # message_handler.go UserLogout; openimsdk/protocol push/push.go), as the SDK sends.
            data = pb.DelUserPushTokenReq(userID=self._user_id, platformID=self._platform_id).SerializeToString()
            with contextlib.suppress(SdkError):
                await self.request(ReqIdentifier.LOGOUT_MSG, data, "logout", timeout=2.0)
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

    async def wait_connected(self) -> None:
        """Wait for the redial after a lost connection; NetworkError if it does not come back."""
        if self.connected.is_set():
            return
        budget = self._opt.open_timeout + max(self._opt.backoff, default=0.0) + self._opt.request_timeout
        waiters = [asyncio.ensure_future(self.connected.wait()), asyncio.ensure_future(self._stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not self.connected.is_set():
            raise SdkError(ErrCode.NetworkError, detail="the message gateway did not reconnect")

    # -- requests --------------------------------------------------------

    async def request(self, ident: int, data: bytes, operation_id: str, timeout: float | None = None) -> bytes:
        ws = self._ws
        if ws is None or not self.connected.is_set():
            raise SdkError(ErrCode.NetworkError, detail="not connected to the message gateway")
        msg_incr = f"{self._user_id}_{secrets.token_hex(8)}"
        frame = self._encode(WsReq(int(ident), self._user_id, operation_id, msg_incr, data))
        fut: asyncio.Future[WsResp] = asyncio.get_running_loop().create_future()
        self._pending[msg_incr] = fut
        try:
            await ws.send(frame)
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

    def _encode(self, req: WsReq) -> bytes:
        """The binary frame of a request; MsgTooLargeError when the server would not read it."""
        frame = encode_json_req(req)
        if self._opt.compression:
            frame = gzip_bytes(frame, self._opt.compression_level)
        limit = self._opt.max_send_frame
        if len(frame) > limit:
            raise SdkError(
                ErrCode.MsgTooLargeError,
                detail=f"request {req.req_identifier} would be a {len(frame)}-byte frame; the message gateway "
                f"reads frames of at most {limit} bytes (OpenIM maxMessageSize)",
            )
        return frame

    def _decode(self, frame: bytes) -> WsResp:
        # Sniffed rather than trusted to the handshake: a server that ignores
        # compression=gzip answers plain envelopes, which never start with 1f 8b.
        if is_gzip(frame):
            frame = gunzip(frame, limit=self._opt.max_inflated_frame)
        return decode_json_resp(frame)

    def _dial_url(self, operation_id: str) -> str:
        query = {
            "sendID": self._user_id,
            "token": self.token,
            "platformID": str(self._platform_id),
            "operationID": operation_id,
            "isBackground": "true" if self.background else "false",
            "sdkType": "js",
            **({"compression": "gzip"} if self._opt.compression else {}),
            **self._opt.extra_query,
        }
        return dial_url(self._url, query)

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
            self._ended, self._inbox = None, None
            try:
                ws = await open_connection(
                    self._dial_url(operation_id),
                    self._on_message,
                    self._wake,
                    max_size=self._opt.max_frame,
                    open_timeout=self._opt.open_timeout,
                )
            except HandshakeRefused as exc:
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
            except (OSError, HandshakeError, TimeoutError, ValueError) as exc:
                await self._listener.on_connect_failed(ErrCode.NetworkError, repr(exc))
                if first:
                    self._settle_first(SdkError(ErrCode.NetworkError, detail=repr(exc)))
                    return
            else:
                attempt = 0
                ws.read_at = asyncio.get_running_loop().time()  # the deadline runs from now, not the 101
                self._ws = ws
                self.connected.set()
                self._settle_first(None)
                ended = _Ended.CLOSED
                self._keep_alive(True)
                try:
                    await self._listener.on_connected(first)
                    first = False
                    ended = await self._serve(ws)
                finally:
                    self._keep_alive(False)
                    self.connected.clear()
                    self._ws = None
                    self._inbox = None
                    if ws.state is not State.CLOSED:  # left by an exception: do not leak the socket
                        with contextlib.suppress(Exception):
                            await ws.close()
                    if ended is _Ended.READ_LIMIT:
                        self.read_limit_drops += 1
                        self._fail_pending(ReadLimitError(self._limit_hit))
                    else:
                        self._fail_pending(SdkError(ErrCode.NetworkError, detail="connection lost"))
                if ended is _Ended.KICKED:
                    await self._listener.on_kicked()
                    return
            if self._stop.is_set():
                return
            delay = self._opt.backoff[attempt % len(self._opt.backoff)]
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    # -- reading: the connection calls _on_message from data_received -------------

    def _on_message(self, frame: bytes) -> None:
        """One binary message, as it is read: answers resolve their request here and now;
        pushes and a kick go to the connection loop (`_serve`), in order."""
        if self._ended is not None:
            return  # kicked or over the limit: the rest is not read
        try:
            resp = self._decode(frame)
        except FrameTooLargeError:
            self._limit_hit = self._opt.max_inflated_frame
            log.warning("frame from gateway inflates past %d bytes user=%s", self._limit_hit, self._user_id)
            self._ended = _Ended.READ_LIMIT
            if self._ws is not None:
                self._ws.begin_close(MESSAGE_TOO_BIG, "inflated frame too big")
            self._wake()
            return
        except EnvelopeError as exc:
            log.warning("undecodable frame from gateway user=%s: %s", self._user_id, exc)
            self._listener.on_bad_frame(str(exc))
            return
        inbox = self._inbox
        if not inbox and resp.msg_incr and resp.msg_incr in self._pending:
            fut = self._pending.pop(resp.msg_incr)  # nothing queued before it: answered at once
            if not fut.done():
                fut.set_result(resp)
            return
        if resp.req_identifier == ReqIdentifier.KICK_ONLINE_MSG:
            self._ended = _Ended.KICKED
        elif not (resp.msg_incr and resp.msg_incr in self._pending) and resp.req_identifier not in _PUSHES:
            return  # an answer nobody waits for, or nothing for us
        if inbox is None:
            inbox = self._inbox = []
        inbox.append(resp)
        ws = self._ws
        if len(inbox) >= _INBOX_HIGH and ws is not None and ws.transport is not None and ws.transport.is_reading():
            ws.transport.pause_reading()  # the loop is behind: let TCP push back on the server
        if len(inbox) == 1:
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _serve(self, ws: GatewayConnection) -> _Ended:
        """Hand queued pushes to the listener until the socket closes, the server kicks us
        or a frame is too big. Idle, it waits on one future; frames wake it only for pushes."""
        loop = asyncio.get_running_loop()
        while True:
            while self._inbox:
                resp = self._inbox.pop(0)
                if not self._inbox and ws.state is State.OPEN and ws.transport and not ws.transport.is_reading():
                    ws.transport.resume_reading()  # caught up
                if resp.req_identifier == ReqIdentifier.KICK_ONLINE_MSG:
                    return _Ended.KICKED
                fut = self._pending.pop(resp.msg_incr, None) if resp.msg_incr else None
                if fut is not None:
                    if not fut.done():
                        fut.set_result(resp)
                    continue
                await self._listener.on_push(resp)
            if ws.error is not None:
                raise ws.error  # the listener's on_bad_frame raised: a crash, as before
            if self._ended is not None:
                return self._ended
            if ws.state is State.CLOSED:
                if ws.sent_code == MESSAGE_TOO_BIG:  # our reader refused a frame over max_frame
                    self._limit_hit = self._opt.max_frame
                    log.warning("frame from gateway over %d bytes user=%s", self._limit_hit, self._user_id)
                    return _Ended.READ_LIMIT
                return _Ended.CLOSED
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    # -- keep-alive: core/transport/keepalive.py's ticker calls these ------------

    def _keep_alive(self, on: bool) -> None:
        ka = self._opt.keepalive
        if ka is not None:
            if on:
                ka.add(self)
            else:
                ka.remove(self)
        elif on:
            self._pinged_at = None
            self._own_timer = asyncio.get_running_loop().call_later(self._opt.ping_interval, self._own_ping)
        elif self._own_timer is not None:
            self._own_timer.cancel()
            self._own_timer = None

    def _own_ping(self) -> None:
        """Without a shared ticker: one timer per connection (websockets' keep-alive did this with a
        task): ping every ping_interval; nothing read since the last ping for a whole interval
        (ping_timeout = ping_interval, as before) drops the connection."""
        ws = self._ws
        if ws is None or ws.state is not State.OPEN:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._pinged_at is not None and ws.read_at < self._pinged_at:
            self._give_up(ws)
            return
        if ws.can_ping:
            ws.write_ping()
            self._pinged_at = now
        self._own_timer = loop.call_later(self._opt.ping_interval, self._own_ping)

    async def keepalive_ping(self, now: float) -> None:
        """Ping unless past the deadline; never waits on the socket (what would, is skipped)."""
        ws = self._ws
        if ws is None or ws.state is not State.OPEN or ws.transport is None or ws.transport.is_closing():
            return
        if now - ws.read_at >= self._keepalive_deadline():
            self._give_up(ws)
            return
        if ws.can_ping:  # nothing queued: else writes back up, and the deadline decides
            # The payload is a fresh id, as the SDK's operationID (long_conn_mgr.go
            # sendPingMessage); its pong moves ws.read_at (core/transport/gateway_conn.py).
            ws.write_ping()

    def keepalive_check(self, now: float) -> None:
        ws = self._ws
        if ws is not None and now - ws.read_at >= self._keepalive_deadline():
            self._give_up(ws)

    def _keepalive_deadline(self) -> float:
        return self._opt.keepalive.pong_wait if self._opt.keepalive is not None else self._opt.ping_interval

    def _give_up(self, ws: GatewayConnection) -> None:
        """Nothing read for pongWait: the SDK's read deadline expired. The connection loop sees
        the connection lost and redials."""
        log.warning("nothing read from the gateway for %.0f s user=%s", self._keepalive_deadline(), self._user_id)
        ws.abort()

    def _fail_pending(self, exc: SdkError) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()


_PUSHES = (ReqIdentifier.PUSH_MSG, ReqIdentifier.SUB_USER_ONLINE_STATUS)


def dial_url(ws_addr: str, query: dict[str, str]) -> str:
    """`<ws_addr>?<query>`, the address exactly as configured, as the SDK dials it
    (internal/interaction/long_conn_mgr.go: Sprintf("%s?sendID=...", WsAddr)).

    Never `<ws_addr>/?`: behind a proxy path such as wss://host/msg_gateway that
    would ask for /msg_gateway/, which Go's router answers with a 301. An address
    that carries a query of its own keeps it and gets ours after an `&`.
    """
    return f"{ws_addr}{'&' if '?' in ws_addr else '?'}{urlencode(query)}"


def _handshake_error(exc: HandshakeRefused) -> tuple[int, str]:
    """The server answers a refused upgrade with HTTP 200 + `{errCode, errMsg, errDlt}` (2.2)."""
    try:
        body = loads_bounded(exc.body or b"{}", 8)
        return int(body.get("errCode", ErrCode.NetworkError)), str(body.get("errMsg", ""))
    except (ValueError, TypeError, AttributeError, OverflowError):
        return int(ErrCode.NetworkError), f"HTTP {exc.status}"
