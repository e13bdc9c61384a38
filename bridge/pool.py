"""The session pool: one SDK core per live session, parked when idle, capped.

- login starts (or re-attaches to) the core of (userID, platformID);
- `use` revives a parked core transparently before a call or a stream;
- a sweeper parks cores idle (no call, no open stream) past the limit: the core
  disconnects and keeps its checkpoint;
- past `max_live_cores`, the least recently used idle core is parked; if none
  can be, the caller gets 503 with Retry-After;
- a core that ends itself (kicked, token expired) ends its session: the event
  is logged, then `sessionClosed`, and later calls get 401 with the errCode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from bridge.errors import BridgeError, status_for
from bridge.eventlog import EventLog
from bridge.sessions import SessionDirectory, SessionRecord, hash_token, new_session_token
from bridge.settings import BridgeSettings
from bridge.sse import SESSION_CLOSED_EVENT
from core.checkpoint import CheckpointStore
from core.core import Core, CoreConfig, token_error_callback
from core.errors import SdkError
from core.events import CONN, Event
from core.protocol.constants import ADMIN_PLATFORM_ID, PLATFORM_NAMES
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode

__all__ = ["SessionHandle", "SessionPool"]

log = logging.getLogger("openim.bridge.pool")

_END_REASONS: dict[int, str] = {
    ErrCode.TokenKickedError: "kicked",
    ErrCode.TokenExpiredError: "tokenExpired",
    ErrCode.LoginOutError: "logout",
}


@dataclass(eq=False)
class SessionHandle:
    record: SessionRecord
    core: Core | None = None
    last_used: float = 0.0
    streams: int = 0
    busy: int = 0
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def session_id(self) -> str:
        return self.record.session_id

    @property
    def state(self) -> str:
        if self.closed:
            return "ended"
        return "live" if self.core is not None else "parked"


class SessionPool:
    def __init__(
        self,
        settings: BridgeSettings,
        *,
        http: httpx.AsyncClient,
        store: CheckpointStore,
        events: EventLog,
        directory: SessionDirectory,
        api_addr: str,
        ws_addr: str,
    ) -> None:
        self._settings = settings
        self._http = http
        self._store = store
        self._events = events
        self._directory = directory
        self._api_addr = api_addr
        self._ws_addr = ws_addr
        self._handles: dict[str, SessionHandle] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._clock = settings.clock
        self._tasks: set[asyncio.Future[Any]] = set()
        self.parked_total = 0
        self.revived_total = 0

    # -- lifecycle -------------------------------------------------------

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="pool-sweeper")

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for handle in list(self._handles.values()):
            async with handle.lock:
                if handle.core is not None:
                    with contextlib.suppress(Exception):
                        await handle.core.park()
                    handle.core = None

    @property
    def live_cores(self) -> int:
        return sum(1 for h in self._handles.values() if h.core is not None)

    def handle(self, session_id: str) -> SessionHandle | None:
        return self._handles.get(session_id)

    @property
    def sessions(self) -> int:
        return len(self._handles)

    # -- login / auth / logout --------------------------------------------

    async def login(
        self,
        user_id: str,
        token: str,
        platform_id: int,
        operation_id: str,
        *,
        batch_messages: bool = False,
        issue_token: bool = True,
    ) -> tuple[str, SessionHandle]:
        """Start or re-attach the core of (user, platform); a new bridge session token
        is minted unless `issue_token` is False (a WebSocket login holds its socket
        instead of a bearer token)."""
        if platform_id not in PLATFORM_NAMES or platform_id == ADMIN_PLATFORM_ID:
            raise BridgeError(400, ErrCode.ArgsError, f"platformID {platform_id} is not a user platform (1-9, 11)")
        session_token = new_session_token()
        existing = await self._directory.find(user_id, platform_id)
        handle = self._handles.get(existing.session_id) if existing else None
        if handle is not None:
            async with handle.lock:
                if handle.record.upstream_token != token:
                    # A new OpenIM token for the same device: reconnect with it.
                    if handle.core is not None:
                        await handle.core.park()
                        handle.core = None
                    old = handle.record.upstream_token
                    handle.record.upstream_token = token
                    try:
                        await self._revive_locked(handle, operation_id)
                    except BaseException:
                        handle.record.upstream_token = old
                        raise
                    await self._directory.update(handle.record)
                else:
                    await self._revive_locked(handle, operation_id)
            if issue_token:
                await self._directory.add_token(handle.session_id, hash_token(session_token))
            return (session_token if issue_token else ""), handle
        record = SessionRecord(
            uuid.uuid4().hex, user_id, platform_id, token, self._clock(), batch_messages=batch_messages
        )
        handle = SessionHandle(record, last_used=self._clock())
        async with handle.lock:
            self._handles[record.session_id] = handle
            try:
                await self._revive_locked(handle, operation_id, fresh=True)
            except BaseException:
                del self._handles[record.session_id]
                raise
        # A record without a usable token still needs one key; an unguessable one
        # that was never handed out is as good as none.
        await self._directory.create(record, hash_token(session_token if issue_token else new_session_token()))
        log.info("login user=%s platform=%s session=%s", user_id, platform_id, record.session_id[:8])
        return (session_token if issue_token else ""), handle

    async def authenticate(self, session_token: str) -> SessionHandle:
        record = await self._directory.resolve(hash_token(session_token))
        if record is None:
            raise BridgeError(401, ErrCode.TokenNotExistError, "unknown or expired session token")
        if record.ended_code is not None:
            code = record.ended_code
            reason = _END_REASONS.get(code, "tokenInvalid")
            raise BridgeError(401, code, f"session ended: {reason}")
        handle = self._handles.get(record.session_id)
        if handle is None:
            raise BridgeError(401, ErrCode.TokenNotExistError, "session is not known on this node")
        return handle

    async def logout(self, handle: SessionHandle, operation_id: str) -> None:
        async with handle.lock:
            if handle.core is not None:
                with contextlib.suppress(SdkError):
                    await handle.core.logout(operation_id)
                handle.core = None
        await self._close_session(handle, ErrCode.LoginOutError, operation_id)

    # -- use ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def use(self, handle: SessionHandle, operation_id: str) -> AsyncIterator[Core]:
        """Hold the session busy (not parkable) and yield its live core, reviving it."""
        handle.busy += 1
        try:
            if handle.core is None:
                async with handle.lock:
                    if handle.closed:
                        raise BridgeError(401, handle.record.ended_code or ErrCode.TokenNotExistError, "session ended")
                    if handle.core is None:
                        await self._revive_locked(handle, operation_id)
            core = handle.core
            if core is None or handle.closed:
                raise BridgeError(401, handle.record.ended_code or ErrCode.TokenNotExistError, "session ended")
            handle.last_used = self._clock()
            yield core
        finally:
            handle.busy -= 1
            handle.last_used = self._clock()

    def stream_opened(self, handle: SessionHandle) -> None:
        handle.streams += 1
        handle.last_used = self._clock()

    def stream_closed(self, handle: SessionHandle) -> None:
        handle.streams -= 1
        handle.last_used = self._clock()

    # -- parking -------------------------------------------------------------

    async def sweep(self) -> int:
        """Park every core idle past the limit; returns how many were parked."""
        now = self._clock()
        parked = 0
        for handle in list(self._handles.values()):
            if self._idle(handle) and now - handle.last_used >= self._settings.idle_park_seconds:
                parked += await self._park(handle)
        return parked

    def _idle(self, handle: SessionHandle) -> bool:
        return handle.core is not None and handle.streams == 0 and handle.busy == 0 and not handle.lock.locked()

    async def _park(self, handle: SessionHandle) -> int:
        async with handle.lock:
            if handle.core is None or handle.streams or handle.busy:
                return 0
            core, handle.core = handle.core, None
            await core.park()
        self.parked_total += 1
        log.info("parked session=%s user=%s", handle.session_id[:8], handle.record.user_id)
        return 1

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed")

    async def _make_room(self, reviving: SessionHandle) -> None:
        while self.live_cores >= self._settings.max_live_cores:
            idle = [h for h in self._handles.values() if h is not reviving and self._idle(h)]
            if not idle:
                raise BridgeError(
                    503,
                    ErrCode.ConnOverMaxNumLimit,
                    f"all {self._settings.max_live_cores} live cores are busy",
                    headers={"Retry-After": "5"},
                )
            await self._park(min(idle, key=lambda h: h.last_used))

    async def _revive_locked(self, handle: SessionHandle, operation_id: str, fresh: bool = False) -> None:
        """Start the core of `handle` (lock held): a new login, or a revival from the checkpoint."""
        if handle.core is not None:
            return
        await self._make_room(handle)
        rec = handle.record
        core = Core(
            CoreConfig(self._api_addr, self._ws_addr, rec.platform_id, batch_messages=rec.batch_messages),
            http=self._http,
            sink=self._sink(handle),
            store=self._store,
            on_end=lambda code: self._core_ended(handle, code),
        )
        try:
            await asyncio.wait_for(
                core.login(rec.user_id, rec.upstream_token, operation_id), self._settings.login_timeout
            )
        except TimeoutError as exc:
            raise BridgeError(504, ErrCode.NetworkTimeoutError, "upstream login timed out") from exc
        except SdkError as exc:
            if exc.code in TOKEN_ERRORS and not fresh:
                # The upstream token died while parked: end the session the way a
                # live core would have (the event, then sessionClosed).
                cb = token_error_callback(exc.code)
                await self._sink(handle)(Event(CONN, cb, None, operation_id))
                await self._close_session(handle, exc.code, operation_id)
            raise BridgeError(status_for(exc.code), exc.code, exc.detail or exc.msg, msg=exc.msg) from exc
        handle.core = core
        handle.last_used = self._clock()
        if not fresh:
            self.revived_total += 1

    # -- ending ------------------------------------------------------------

    async def _core_ended(self, handle: SessionHandle, code: int) -> None:
        async with handle.lock:
            handle.core = None
        await self._close_session(handle, code, None)

    async def _close_session(self, handle: SessionHandle, code: int, operation_id: str | None) -> None:
        if handle.closed:
            return
        handle.closed = True
        # The memory directory ends this very record; a Redis one ends its own copy.
        handle.record.ended_code = code
        await self._directory.end(handle.session_id, code)
        reason = _END_REASONS.get(code, "tokenInvalid")
        data: dict[str, Any] = {"reason": reason, "errCode": int(code)}
        if operation_id:
            data["operationID"] = operation_id
        await self._events.append(handle.session_id, SESSION_CLOSED_EVENT, json.dumps(data))
        self._handles.pop(handle.session_id, None)
        # Streams still open read sessionClosed and end; the log goes later so a
        # client resuming a moment late still finds the final events.
        loop = asyncio.get_running_loop()
        session_id = handle.session_id
        loop.call_later(self._settings.ended_log_grace, lambda: self._spawn(self._events.drop(session_id)))
        log.info(
            "session closed session=%s user=%s reason=%s",
            handle.session_id[:8],
            handle.record.user_id,
            reason,
        )

    async def upstream_ready(self) -> bool:
        """The upstream API answers (any OpenIM envelope, even an error, counts)."""
        try:
            resp = await self._http.post(
                self._api_addr.rstrip("/") + "/auth/parse_token",
                json={"token": ""},
                headers={"operationID": "readyz"},
                timeout=2.0,
            )
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- events ------------------------------------------------------------

    def _sink(self, handle: SessionHandle) -> Any:
        events = self._events
        session_id = handle.session_id

        async def sink(ev: Event) -> None:
            await events.append(session_id, ev.callback, json.dumps(ev.to_json_obj(), separators=(",", ":")))

        return sink

    async def append_event(self, handle: SessionHandle, event: str, data: dict[str, Any]) -> None:
        await self._events.append(handle.session_id, event, json.dumps(data, separators=(",", ":")))
