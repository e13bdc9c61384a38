"""The session pool: one SDK core per live session, parked when idle, capped.

- login starts (or re-attaches to) the core of (userID, platformID);
- `use` revives a parked core transparently before a call or a stream;
- a sweeper parks cores idle (no call, no open stream) past the limit: the core
  disconnects and keeps its checkpoint;
- past `max_live_cores`, the least recently used idle core is parked; if none
  can be, the caller gets 503 with Retry-After;
- a core that ends itself (kicked, token expired) ends its session: the event
  is logged, then `sessionClosed`, and later calls get 401 with the errCode.

Ownership (cluster mode, issue #6; in embedded mode the same code runs on the
memory directory with one node): a live core holds its session's lease, which
a background task renews every ``lease_seconds / 3``. Parking releases it, so a
parked session is anyone's to revive. A node asked about a session it does
not run *adopts* it when the lease is free (its core comes back from the
checkpoint, positioned after the last message its event log marks as
delivered), and raises :class:`NotOwnerError` when a live owner elsewhere
holds it, for the request to be forwarded there. Every write a core makes as
owner carries its fence: event appends are refused once the lease moved on,
checkpoint saves once a newer fence wrote, and a node that finds its lease
gone drops the core without a word (the new owner speaks for the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import BridgeError, NotOwnerError, status_for
from bridge.eventlog import EventLog, Fence, FencedOut
from bridge.sessions import SessionDirectory, SessionRecord, hash_token, new_session_token
from bridge.settings import BridgeSettings
from bridge.sse import SESSION_CLOSED_EVENT
from core.checkpoint import CheckpointStore
from core.core import Core, CoreConfig, token_error_callback
from core.errors import SdkError
from core.events import CONN, Event
from core.protocol.constants import ADMIN_PLATFORM_ID, PLATFORM_NAMES
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode

__all__ = ["SessionHandle", "SessionPool", "checkpoint_unavailable"]

log = logging.getLogger("openim.bridge.pool")


def checkpoint_unavailable(exc: BaseException) -> BridgeError:
    """The client-facing error when the checkpoint database cannot be reached (like Redis's, 503)."""
    return BridgeError(
        503,
        ErrCode.ServerInternalError,
        f"checkpoint database unavailable: {type(exc).__name__}; retry shortly",
        headers={"Retry-After": "1"},
    )


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
    fence: int | None = None  # the owner lease's fence while this node runs the core
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
        self._keeper: asyncio.Task[None] | None = None
        self._clock = settings.clock
        self._tasks: set[asyncio.Future[Any]] = set()
        self.node_id = settings.node_id
        self.parked_total = 0
        self.revived_total = 0
        self.adopted_total = 0
        self.lost_total = 0
        # Drain (SIGTERM): no new sessions; open streams end; `drained` once idle.
        self.draining = False
        self.drain_started = asyncio.Event()
        self._in_flight = 0
        self._idle_calls = asyncio.Event()
        self._idle_calls.set()
        # Sessions seen running on another node lately: session id -> (node id,
        # until, monotonic). Calls for them go straight to forwarding, without a
        # lease attempt and an owner lookup each; kept a third of a lease, so a
        # dead owner's sessions are tried here again soon after its lease lapses.
        self._elsewhere: dict[str, tuple[str, float]] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        """The process's shared HTTP client (upstream calls, forwarding)."""
        return self._http

    @property
    def directory(self) -> SessionDirectory:
        return self._directory

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- lifecycle -------------------------------------------------------

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="pool-sweeper")
        self._keeper = asyncio.create_task(self._keep_leases_forever(), name="pool-leases")

    async def aclose(self) -> None:
        for task in (self._sweeper, self._keeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._park_all()
        with contextlib.suppress(BridgeError):
            await self._directory.unregister_node(self.node_id)

    async def _park_all(self) -> None:
        """Park every live core: checkpoints saved, leases handed back."""
        for handle in list(self._handles.values()):
            async with handle.lock:
                if handle.core is not None:
                    core, handle.core = handle.core, None
                    with contextlib.suppress(Exception):
                        await core.park()
                await self._release(handle)

    async def drain(self, timeout: float) -> None:
        """SIGTERM: refuse new sessions, end open streams, let in-flight calls
        finish (up to `timeout` s), then park every core and release its lease
        so other nodes take the sessions over at once."""
        self.draining = True
        self.drain_started.set()
        log.info("draining: %d calls in flight, %d live cores", self._in_flight, self.live_cores)
        try:
            async with asyncio.timeout(timeout):
                await self._idle_calls.wait()
        except TimeoutError:
            log.warning("drain: %d calls still running after %.0f s", self._in_flight, timeout)
        await self._park_all()
        with contextlib.suppress(BridgeError):
            await self._directory.unregister_node(self.node_id)

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
        self._refuse_if_draining()
        session_token = new_session_token()
        existing = await self._directory.find(user_id, platform_id)
        handle = None
        if existing is not None:
            handle = self._handles.get(existing.session_id) or await self._adopt(existing)
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
        return handle if handle is not None else await self._adopt(record)

    async def _adopt(self, record: SessionRecord) -> SessionHandle:
        """A handle here for a session this node does not run yet; its core starts on first use.

        Whether another node runs it is asked only then (:meth:`use` raises
        :class:`NotOwnerError`): a stream needs no core here and must never be
        forwarded, so authenticating alone must not fail on ownership.
        """
        self._refuse_if_draining()
        handle = self._handles.get(record.session_id)
        if handle is None:
            handle = self._handles[record.session_id] = SessionHandle(record, last_used=self._clock())
            self.adopted_total += 1
        return handle

    def _refuse_if_draining(self) -> None:
        if self.draining:
            raise BridgeError(
                503, ErrCode.ServerInternalError, "this bridge node is shutting down", headers={"Retry-After": "1"}
            )

    async def ensure_running(self, handle: SessionHandle, operation_id: str) -> None:
        """Make sure the session's core runs somewhere (streams need no local core).

        Revives it here unless another node's lease holds it.
        """
        if handle.core is not None or handle.closed:
            return
        try:
            async with self.use(handle, operation_id):
                pass
        except NotOwnerError:
            pass

    async def require_local(self, handle: SessionHandle) -> None:
        """Raise NotOwnerError when another node runs this session (its state lives there)."""
        if handle.core is None:
            await self._raise_if_elsewhere(handle)

    def _seen_elsewhere(self, session_id: str) -> str | None:
        entry = self._elsewhere.get(session_id)
        if entry is not None and time.monotonic() < entry[1]:
            return entry[0]
        self._elsewhere.pop(session_id, None)
        return None

    async def _raise_if_elsewhere(self, handle: SessionHandle) -> None:
        """NotOwnerError if another node holds the session's lease (remembered a while)."""
        node = self._seen_elsewhere(handle.session_id)
        if node is None:
            owner = await self._directory.owner(handle.session_id)
            if owner is None or owner[0] == self.node_id:
                return
            node = owner[0]
            self._elsewhere[handle.session_id] = (node, time.monotonic() + self._settings.lease_seconds / 3)
        self._forget_handle(handle)  # the owner elsewhere holds the truth now
        raise NotOwnerError(node)

    async def logout(self, handle: SessionHandle, operation_id: str) -> None:
        await self.require_local(handle)  # another node runs it: forwarded there
        async with handle.lock:
            if handle.core is not None:
                core, handle.core = handle.core, None
                try:
                    await core.logout(operation_id)
                except SdkError:
                    pass  # the gateway is gone: the session ends all the same
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("logout of session=%s kept no checkpoint: %s", handle.session_id[:8], exc)
        await self._close_session(handle, ErrCode.LoginOutError, operation_id)

    # -- use ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def use(self, handle: SessionHandle, operation_id: str) -> AsyncIterator[Core]:
        """Hold the session busy (not parkable) and yield its live core, reviving it."""
        handle.busy += 1
        self._in_flight += 1
        self._idle_calls.clear()
        try:
            if handle.core is None:
                async with handle.lock:
                    if handle.closed:
                        raise BridgeError(401, handle.record.ended_code or ErrCode.TokenNotExistError, "session ended")
                    if handle.core is None:
                        self._refuse_if_draining()
                        await self._revive_locked(handle, operation_id)
            core = handle.core
            if core is None or handle.closed:
                raise BridgeError(401, handle.record.ended_code or ErrCode.TokenNotExistError, "session ended")
            handle.last_used = self._clock()
            yield core
        finally:
            handle.busy -= 1
            handle.last_used = self._clock()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle_calls.set()

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
            try:
                await core.park()
            finally:
                await self._release(handle)
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
        if not fresh and self._seen_elsewhere(handle.session_id) is not None:
            await self._raise_if_elsewhere(handle)
        fence = await self._directory.acquire(handle.session_id, self.node_id)
        if fence is None:
            await self._raise_if_elsewhere(handle)
            raise BridgeError(
                503, ErrCode.ServerInternalError, "session is changing hands", headers={"Retry-After": "1"}
            )
        self._elsewhere.pop(handle.session_id, None)
        handle.fence = fence
        try:
            await self._make_room(handle)
            await self._start_core(handle, operation_id, fresh)
        except BaseException:
            await self._release(handle)
            raise
        if not fresh:
            self.revived_total += 1

    async def _start_core(self, handle: SessionHandle, operation_id: str, fresh: bool) -> None:
        delivered: dict[str, int] = {}
        if not fresh:
            # Another node may have run it since: its latest record (upstream
            # token) and how far its events got are in the shared stores.
            latest = await self._directory.find(handle.record.user_id, handle.record.platform_id)
            if latest is not None and latest.session_id == handle.session_id:
                handle.record.upstream_token = latest.upstream_token
            delivered = await self._events.delivered(handle.session_id)
        rec = handle.record
        core = Core(
            CoreConfig(self._api_addr, self._ws_addr, rec.platform_id, batch_messages=rec.batch_messages),
            http=self._http,
            sink=self._sink(handle),
            store=self._store,
            on_end=lambda code: self._core_ended(handle, code),
            mark_sink=self._mark_sink(handle),
        )
        core.fence = handle.fence
        try:
            await asyncio.wait_for(
                core.login(rec.user_id, rec.upstream_token, operation_id, delivered=delivered),
                self._settings.login_timeout,
            )
        except TimeoutError as exc:
            raise BridgeError(504, ErrCode.NetworkTimeoutError, "upstream login timed out") from exc
        except (SQLAlchemyError, OSError) as exc:  # the checkpoint store (the gateway's errors are SdkErrors)
            raise checkpoint_unavailable(exc) from exc
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

    # -- leases --------------------------------------------------------------

    async def _release(self, handle: SessionHandle) -> None:
        fence, handle.fence = handle.fence, None
        if fence is not None:
            with contextlib.suppress(BridgeError):  # Redis down: the lease lapses by itself
                await self._directory.release(handle.session_id, self.node_id, fence)

    def _forget_handle(self, handle: SessionHandle) -> None:
        if self._handles.get(handle.session_id) is handle and handle.core is None and not handle.streams:
            del self._handles[handle.session_id]

    async def _lost(self, handle: SessionHandle, fence: int | None) -> None:
        """Our lease under `fence` is gone: another node may run the session now.

        Drop the core without saving or announcing anything; its last
        checkpoint and the log's delivery marks are where the next owner starts.
        """
        async with handle.lock:
            if handle.fence != fence or handle.core is None:
                return
            core, handle.core, handle.fence = handle.core, None, None
            core.fence = -1  # any save still in flight is refused by the store
            await core.abandon()
        self.lost_total += 1
        self._forget_handle(handle)
        log.warning("lost the lease of session=%s user=%s", handle.session_id[:8], handle.record.user_id)

    async def keep_leases(self) -> None:
        """Renew the leases of live cores; revive sessions that have an open
        stream here but no owner anywhere (a parked or orphaned session whose
        client only listens must still get its events)."""
        await self._directory.register_node(
            self.node_id, self._settings.advertise_url or "", self._settings.lease_seconds * 2
        )
        for session_id in list(self._elsewhere):
            self._seen_elsewhere(session_id)  # drops what has expired
        owned: list[tuple[SessionHandle, int]] = [
            (h, h.fence) for h in list(self._handles.values()) if h.core is not None and h.fence is not None
        ]
        renewed = await self._directory.renew_many(self.node_id, [(h.session_id, f) for h, f in owned])
        for (handle, fence), ok in zip(owned, renewed, strict=True):
            if not ok:
                await self._lost(handle, fence)
        for handle in list(self._handles.values()):
            if handle.core is None and handle.streams and not handle.closed and not self.draining:
                self._spawn(self._keep_running(handle))

    async def _keep_running(self, handle: SessionHandle) -> None:
        try:
            await self.ensure_running(handle, "stream-keeper")
        except (BridgeError, SdkError) as exc:  # retried next round; a dead token ends the session
            log.info("could not revive session=%s for its stream: %s", handle.session_id[:8], exc)

    async def _keep_leases_forever(self) -> None:
        while True:
            try:
                await self.keep_leases()
            except BridgeError as exc:  # Redis unavailable: keep the cores, try again
                log.warning("lease renewal failed: %s", exc.detail)
            except Exception:
                log.exception("lease renewal failed")
            await asyncio.sleep(self._settings.lease_seconds / 3)

    # -- ending ------------------------------------------------------------

    async def _core_ended(self, handle: SessionHandle, code: int) -> None:
        async with handle.lock:
            handle.core = None
        await self._close_session(handle, code, None)

    async def _close_session(self, handle: SessionHandle, code: int, operation_id: str | None) -> None:
        if handle.closed:
            return
        reason = _END_REASONS.get(code, "tokenInvalid")
        data: dict[str, Any] = {"reason": reason, "errCode": int(code)}
        if operation_id:
            data["operationID"] = operation_id
        fence = handle.fence
        try:
            # Fenced: a node that lost the session (and was kicked by the new
            # owner's connection) must not end it for everyone.
            await self._events.append(
                handle.session_id, SESSION_CLOSED_EVENT, json.dumps(data), fence=self._fence(handle)
            )
        except FencedOut:
            handle.fence = None
            self._forget_handle(handle)
            log.info("session=%s moved to another node; not ending it", handle.session_id[:8])
            return
        handle.closed = True
        # The memory directory ends this very record; a Redis one ends its own copy.
        handle.record.ended_code = code
        await self._directory.end(handle.session_id, code)
        handle.fence = None
        if fence is not None:
            with contextlib.suppress(BridgeError):
                await self._directory.release(handle.session_id, self.node_id, fence)
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

    async def stores_ready(self) -> bool:
        """The session directory answers (a Redis round trip in cluster mode)."""
        try:
            await self._directory.live_count()
        except BridgeError:
            return False
        return True

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

    def _fence(self, handle: SessionHandle) -> Fence | None:
        return None if handle.fence is None else Fence(self.node_id, handle.fence)

    def _sink(self, handle: SessionHandle) -> Any:
        async def sink(ev: Event) -> None:
            data = json.dumps(ev.to_json_obj(), separators=(",", ":"))
            await self._as_owner(
                handle,
                lambda fence: self._events.append(handle.session_id, ev.callback, data, marks=ev.marks, fence=fence),
            )

        return sink

    def _mark_sink(self, handle: SessionHandle) -> Any:
        async def mark(marks: tuple[tuple[str, int], ...]) -> None:
            await self._as_owner(handle, lambda fence: self._events.mark(handle.session_id, marks, fence=fence))

        return mark

    async def _as_owner(self, handle: SessionHandle, write: Callable[[Fence | None], Awaitable[Any]]) -> None:
        """Write to the session's log as its owner; while Redis is unavailable,
        wait for it (the core's dispatch waits too, so nothing is skipped); a
        lost lease drops the core."""
        fence = handle.fence
        delay = 0.1
        while True:
            try:
                await write(None if fence is None else Fence(self.node_id, fence))
                return
            except FencedOut:
                self._spawn(self._lost(handle, fence))
                return
            except BridgeError as exc:
                if handle.fence != fence:
                    return  # parked or lost meanwhile: the next owner delivers it
                log.warning("event log write failed, retrying in %.1f s: %s", delay, exc.detail)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def append_event(self, handle: SessionHandle, event: str, data: dict[str, Any]) -> None:
        text = json.dumps(data, separators=(",", ":"))
        await self._events.append(handle.session_id, event, text, fence=self._fence(handle))
