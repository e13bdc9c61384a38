"""One oimws WebSocket connection: login state, request dispatch, event delivery.

Per connection (never per user, unlike oimws' `GJsActors[userID]`): the user
and platform come from the connect URL (`sendID`, `platformID`); every request
must be for that user (ws_wrapper let a request's `userID` drive another
user's SDK, openim-v3.md 6.1 problem 4). `Login` starts or re-attaches the
(user, platform) session in the same pool REST uses, so a REST session and a
WebSocket of the same user and platform share one core. A second `Login` on
the connection answers 10102; any call before `Login` answers 10004.

Calls go through core's registry exactly as REST's do (`pool.use`, then
`core.call`; idempotency by operationID for non-read-only functions), several
at a time up to `MAX_INFLIGHT`; an answer is queued only after every event the
call logged, so a client sees `OnFriendApplicationAdded` before the `AddFriend`
answer, as from the Go SDK. Closing the socket is not a logout: the session
stays (and parks when idle) for REST clients and for the reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel

from bridge.errors import BridgeError, NotOwnerError
from bridge.logins import MAX_TOKEN_CHARS
from bridge.oimws import argmap
from bridge.oimws.catalog import CLIENT_SIDE, INIT_SDK, LOGIN, LOGOUT, OPEN_IM_SDK_NAMES
from bridge.oimws.outbox import OimwsStats, Outbox
from bridge.oimws.pump import EventPump
from bridge.oimws.resume import ResumeCursors
from bridge.oimws.wire import FrameError, Request, error_frame, parse_request, result_frame
from bridge.routes.deps import Services
from bridge.session_handle import SessionHandle
from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.registry import SdkFunction

__all__ = ["MAX_INFLIGHT", "ClientInfo", "Connection", "Socket"]

log = logging.getLogger("openim.bridge.oimws")

#: Calls one connection runs at once; past it the connection stops reading.
MAX_INFLIGHT = 16


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What the connect URL says: `?sendID=&platformID=&operationID=` (oimws MActor.go)."""

    user_id: str
    platform_id: int
    connect_id: str | None  # the connect operationID: same on open-im-sdk's reconnects
    address: str | None = None  # the client's address, for the log of refused logins


@dataclass(frozen=True, slots=True)
class Socket:
    """The three socket operations a connection needs (a Starlette WebSocket in production).

    `receive` returns the next frame's payload, or None once the client is gone.
    """

    receive: Callable[[], Awaitable[str | bytes | None]]
    send: Callable[[str], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]


class Connection:
    def __init__(
        self,
        svc: Services,
        functions: dict[str, SdkFunction],
        client: ClientInfo,
        socket: Socket,
        stats: OimwsStats,
        resume: ResumeCursors,
    ) -> None:
        self._svc = svc
        self._functions = functions
        self._client = client
        self._socket = socket
        self._stats = stats
        self._resume = resume
        self._outbox = Outbox(svc.settings.oimws_send_queue, stats)
        self._max_frame = svc.settings.oimws_max_frame_bytes
        self._slots = asyncio.Semaphore(MAX_INFLIGHT)
        self._calls: set[asyncio.Task[None]] = set()
        self._handle: SessionHandle | None = None
        self._pump: EventPump | None = None
        self._pump_task: asyncio.Task[None] | None = None
        # Until its Login a socket belongs to nobody, so it has BRIDGE_HEADER_TIMEOUT to log in, as
        # an HTTP connection has to send its head (OpenIM's gateway checks the token before the
        # upgrade and never holds such a socket). Whatever it sends meanwhile does not count.
        self._login_by = 0.0
        self._logging_in = False
        self._expired = False
        self._tasks: tuple[asyncio.Task[None], ...] = ()

    async def run(self, connect_operation_id: str) -> None:
        """Serve until the client leaves or the bridge closes the socket; then clean up."""
        # oimws answers every new socket with an InitSDK event (jsCore.go NewJsCore).
        await self._outbox.put(error_frame(INIT_SDK, connect_operation_id, 0, ""))
        writer = asyncio.create_task(self._outbox.run(self._socket.send, self._socket.close), name="oimws-writer")
        reader = asyncio.create_task(self._read(), name="oimws-reader")
        self._tasks = (writer, reader)
        loop = asyncio.get_running_loop()
        self._login_by = loop.time() + self._svc.settings.header_timeout
        deadline = loop.call_at(self._login_by, self._login_deadline)
        try:
            done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("oimws connection failed", exc_info=task.exception())
            if self._expired:  # straight to the socket: the outbox may be full of unread answers
                with contextlib.suppress(Exception):
                    await self._socket.close(1008, f"no Login within {self._svc.settings.header_timeout:g} s")
        finally:
            deadline.cancel()
            tasks = [writer, reader, *self._calls]
            if self._pump_task is not None:
                tasks.append(self._pump_task)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._detach()

    def _login_deadline(self) -> None:
        if self._handle is None and not self._logging_in:  # a Login under way decides itself
            self._expired = True
            for task in self._tasks:
                task.cancel()

    def _detach(self) -> None:
        handle, pump = self._handle, self._pump
        if handle is None or pump is None:
            return
        self._svc.pool.stream_closed(handle)
        key = self._client.connect_id
        if key and not (pump.session_closed or pump.lagged_out or handle.closed):
            cursor = self._outbox.sent_event_id
            self._resume.save(handle.session_id, key, pump.start if cursor is None else cursor)

    # -- requests ----------------------------------------------------------

    async def _read(self) -> None:
        while True:
            frame = await self._socket.receive()
            if frame is None:
                return
            self._stats.frames_received += 1
            try:
                req = parse_request(frame, self._max_frame, self._svc.settings.json_max_depth)
            except FrameError as exc:
                self._stats.bad_frames += 1
                await self._outbox.put(error_frame(exc.event, exc.operation_id, exc.code, exc.message))
                continue
            await self._dispatch(req)

    async def _dispatch(self, req: Request) -> None:
        if req.user_id is not None and req.user_id != self._client.user_id:
            await self._fail(req, ErrCode.NoPermissionError, f"userID {req.user_id!r} is not this connection's user")
            return
        if req.func == INIT_SDK:
            await self._outbox.put(error_frame(INIT_SDK, req.operation_id, 0, ""))
        elif req.func == LOGIN:
            await self._login(req)
        elif req.func == LOGOUT:
            await self._logout(req)
        else:
            await self._call(req)

    async def _fail(self, req: Request, code: int, msg: str) -> None:
        self._stats.bad_frames += code in (ErrCode.SdkArgsError, ErrCode.UnknownCode)
        await self._outbox.put(error_frame(req.func, req.operation_id, code, msg))

    async def _login(self, req: Request) -> None:
        if self._handle is not None:
            await self._fail(req, ErrCode.LoginRepeatError, "this connection is already logged in")
            return
        if len(req.args) != 2 or not all(isinstance(a, str) and a for a in req.args):
            await self._fail(req, ErrCode.SdkArgsError, "Login takes 2 arguments (userID, token), both strings")
            return
        user_id, token = req.args
        if len(token) > MAX_TOKEN_CHARS:  # as REST's LoginRequest: never sent upstream
            await self._fail(req, ErrCode.SdkArgsError, f"Login token is longer than {MAX_TOKEN_CHARS} characters")
            return
        if user_id != self._client.user_id:
            await self._fail(req, ErrCode.NoPermissionError, f"Login userID {user_id!r} is not the connect sendID")
            return
        # Inline in the reader: the next request of this socket waits for the login.
        svc = self._svc
        before = svc.settings.clock()
        self._logging_in = True
        try:
            handle = await self._pool_login(token, req.operation_id)
        except (BridgeError, SdkError) as exc:
            await self._fail(req, exc.code, _text(exc.msg, exc.detail))
            self._logging_in = False
            if asyncio.get_running_loop().time() >= self._login_by:
                self._login_deadline()  # it failed after the deadline: nothing more to wait for
            return
        finally:
            self._logging_in = False
        svc.pool.stream_opened(handle)  # an open socket keeps the core from being parked
        self._handle = handle
        cursor = await self._first_cursor(handle, fresh=handle.record.created_at >= before)
        self._pump = EventPump(svc.events, handle.session_id, cursor, self._outbox, self._stats)
        await self._outbox.put(result_frame(LOGIN, req.operation_id, None))
        self._pump_task = asyncio.create_task(self._pump.run(), name="oimws-pump")
        log.info("oimws login user=%s platform=%s", self._client.user_id, self._client.platform_id)

    async def _pool_login(self, token: str, operation_id: str) -> SessionHandle:
        """Log in; while another node's lease holds this (user, platform), wait for it.

        A socket has no bearer token to forward calls with, so its session must
        run on this node. The usual case is a reconnect after the owner node
        died: its lease lapses within `lease_seconds`, then this node takes it.
        An owner that stays alive (the same device also logged in over REST on
        another node) keeps it, and the login fails naming that node.
        """
        svc = self._svc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + svc.settings.lease_seconds * 1.5
        while True:
            try:
                _, handle = await svc.logins.login(
                    self._client.user_id,
                    token,
                    self._client.platform_id,
                    operation_id,
                    issue_token=False,
                    client=self._client.address,
                )
                return handle
            except NotOwnerError:
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.25)  # a lease lapses on Redis's clock; nothing to wait on here

    async def _first_cursor(self, handle: SessionHandle, fresh: bool) -> int:
        """Resume a reconnect where it stopped; a new session from its start; else from now."""
        events = self._svc.events
        key = self._client.connect_id
        saved = self._resume.take(handle.session_id, key) if key else None
        if saved is not None and not (await events.read_after(handle.session_id, saved, limit=1)).reset:
            self._stats.resumed += 1
            return saved
        # A session this Login created: its log holds only this login's events
        # (OnConnecting, OnConnectSuccess), which oimws also sends after Login.
        return 0 if fresh else await events.last_id(handle.session_id)

    async def _logout(self, req: Request) -> None:
        if self._handle is None:
            await self._fail(req, ErrCode.ResourceLoadNotCompleteError, "not logged in: send Login first")
            return
        try:
            await self._svc.pool.logout(self._handle, req.operation_id)
        except (BridgeError, SdkError) as exc:
            await self._fail(req, exc.code, _text(exc.msg, exc.detail))
        # The answer is the pump's: sessionClosed -> `Logout` frame, then close.

    async def _call(self, req: Request) -> None:
        bound = argmap.resolve(req.func, self._functions)
        if bound is None:
            await self._fail(req, ErrCode.UnknownCode, _unknown(req.func))
            return
        if self._handle is None:
            await self._fail(req, ErrCode.ResourceLoadNotCompleteError, "not logged in: send Login first")
            return
        try:
            params = argmap.bind(bound, req.args)
        except argmap.ArgumentError as exc:
            await self._fail(req, ErrCode.SdkArgsError, str(exc))
            return
        await self._slots.acquire()  # full: stop reading requests until a call ends
        task = asyncio.create_task(self._answer(req, bound.fn, params, self._handle))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _answer(self, req: Request, fn: SdkFunction, params: BaseModel, handle: SessionHandle) -> None:
        try:
            self._stats.calls += 1
            frame = await self._outcome(req, fn, params, handle)
            pump = self._pump
            if pump is not None:
                await pump.wait_delivered(await self._svc.events.last_id(handle.session_id))
            await self._outbox.put(frame)
        finally:
            self._slots.release()

    async def _outcome(self, req: Request, fn: SdkFunction, params: BaseModel, handle: SessionHandle) -> str:
        # oimws frames always carry the client's operationID: retries run once, as over REST.
        try:
            result = await self._svc.calls.run(handle, fn, params, req.operation_id, op_given=True)
        except (SdkError, BridgeError) as exc:
            return error_frame(req.func, req.operation_id, exc.code, _text(exc.msg, exc.detail))
        except Exception:
            log.exception("oimws call %s failed", req.func)
            return error_frame(req.func, req.operation_id, ErrCode.UnknownCode, "internal error")
        return result_frame(req.func, req.operation_id, result)


def _text(msg: str, detail: str) -> str:
    return f"{msg}: {detail}" if detail and detail != msg else msg


def _unknown(name: str) -> str:
    if name in CLIENT_SIDE:
        return f"{name} is not a server function: {CLIENT_SIDE[name]}"
    if name in OPEN_IM_SDK_NAMES:
        return f"{name} is not supported by this bridge yet"
    return f"unknown function {name!r}"
