"""The session pool: the sessions this node holds, one SDK core per live one, parked when idle, capped.

- `use` holds a session busy and yields its live core, reviving a parked one
  from its checkpoint first (positioned after the last message its event log
  marks as delivered, so nothing is delivered twice);
- a sweeper parks cores idle (no call, no open stream) past the limit: the
  core disconnects and keeps its checkpoint, and its lease is handed back;
- past `max_live_cores` the least recently used idle core is parked; if none
  can be, the caller gets 503 with Retry-After;
- a core that ends itself (kicked, token expired) ends its session: the event
  is logged, then `sessionClosed`, and later calls get 401 with the errCode;
- drain (SIGTERM): no new sessions, open streams end, calls in flight finish,
  then every core parks and hands its lease back.

Who may run a core is decided by the owner leases (bridge/leases.py); writing
its events by the fenced writer (bridge/event_writer.py); building it by the
injected core factory (bridge/core_factory.py). Logins live in
bridge/logins.py, calls in bridge/calls.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from bridge.core_drop import CoreDropper
from bridge.core_factory import CoreFactory, SessionCore
from bridge.core_runner import CoreRunner
from bridge.drain import Drain
from bridge.errors import BridgeError, NotOwnerError
from bridge.event_writer import SessionEventWriter
from bridge.eventlog import EventLog
from bridge.gc_policy import GcPolicy
from bridge.leases import SessionLeases
from bridge.logs import session_fields
from bridge.parking import Parking
from bridge.session_close import SessionCloser
from bridge.session_handle import SessionHandle
from bridge.sessions import SessionDirectory, SessionRecord
from bridge.settings import BridgeSettings
from bridge.stream_keeper import StreamKeeper
from core.protocol.errcodes import ErrCode

__all__ = ["SessionPool"]

log = logging.getLogger("openim.bridge.pool")


def _ended(handle: SessionHandle) -> BridgeError:
    return BridgeError(401, handle.record.ended_code or ErrCode.TokenNotExistError, "session ended")


class SessionPool:
    def __init__(
        self,
        settings: BridgeSettings,
        *,
        directory: SessionDirectory,
        events: EventLog,
        leases: SessionLeases,
        core_factory: CoreFactory,
        gc_policy: GcPolicy | None = None,
    ) -> None:
        self._settings = settings
        self.directory = directory
        self.leases = leases
        self.writer = SessionEventWriter(
            events,
            leases,
            give_up_after=settings.event_write_timeout,
            on_lost=lambda h, fence: self.dropper.drop_soon(h, fence, "lost its lease"),
            on_stalled=lambda h, fence: self.dropper.drop_soon(h, fence, "could not write its events"),
        )
        self._closer = SessionCloser(
            self.writer,
            directory,
            leases,
            events,
            log_grace=settings.ended_log_grace,
            forget=self._closed,
            spawn=self._spawn,
        )
        self._runner = CoreRunner(
            core_factory,
            self.writer,
            directory,
            events,
            login_timeout=settings.login_timeout,
            on_token_died=self._closer.close,
            on_end=self._core_ended,
            gc_policy=gc_policy,
        )
        self.gc_policy = gc_policy
        self._handles: dict[str, SessionHandle] = {}
        self.parking = Parking(self._handles, self._runner, leases, settings)
        self.dropper = CoreDropper(self._handles, self._runner, forget=self._forget, spawn=self._spawn)
        self._clock = settings.clock
        self._loops: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self.node_id = settings.node_id
        self.revived_total = 0
        self.adopted_total = 0
        self.crashed_total = 0
        self.drain = Drain()
        self.streams = StreamKeeper(
            self._handles, self.ensure_running, self.drain, self._spawn, self._clock, settings.max_streams_per_session
        )
        self.on_live: list[Callable[[SessionHandle], None]] = []  # told of each core started here (webhooks)

    @property
    def live_cores(self) -> int:
        return self.parking.live_cores

    def live(self) -> list[SessionCore]:
        """The cores running on this node now."""
        return [h.core for h in self._handles.values() if h.core is not None]

    async def sweep(self) -> int:
        """Park every core idle past the limit (bridge/parking.py); returns how many were parked."""
        return await self.parking.sweep()

    @property
    def sessions(self) -> int:
        return len(self._handles)

    def handle(self, session_id: str) -> SessionHandle | None:
        return self._handles.get(session_id)

    def handles(self) -> list[SessionHandle]:
        """Every session this node holds (live or parked), for webhook delivery."""
        return list(self._handles.values())

    # -- lifecycle -------------------------------------------------------

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self.parking.sweep_forever(), name="pool-sweeper"),
            asyncio.create_task(
                self.leases.keep_forever(self.dropper.owned, self.dropper.lease_gone, self.streams.revive_listened),
                name="pool-leases",
            ),
        ]

    async def aclose(self) -> None:
        for task in self._loops:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.parking.park_all()
        await self.leases.unregister()
        self._closer.cancel_pending()  # no log drop may fire after the stores closed

    async def drain_and_park(self, timeout: float) -> None:
        """SIGTERM: refuse new sessions, end open streams, let in-flight calls
        finish (up to `timeout` s), then park every core and release its lease
        so other nodes take the sessions over at once."""
        await self.drain.wait_for_calls(timeout, self.live_cores)
        await self.parking.park_all()
        await self.leases.unregister()

    # -- handles -------------------------------------------------------------

    def track(self, record: SessionRecord) -> SessionHandle:
        """This node's handle of a session (made for one it does not hold yet); its core starts on first use.
        Ownership is asked only then (`use` raises NotOwnerError): a stream needs no core here."""
        handle = self._handles.get(record.session_id)
        if handle is None:
            self.drain.refuse_new()
            handle = self._handles[record.session_id] = SessionHandle(record, last_used=self._clock())
            self.adopted_total += 1
        return handle

    def _forget(self, handle: SessionHandle) -> None:
        if self._handles.get(handle.session_id) is handle and handle.core is None and not handle.streams:
            del self._handles[handle.session_id]

    # -- starting cores ----------------------------------------------------

    async def start_new(self, record: SessionRecord, operation_id: str) -> SessionHandle:
        """Start the core of a session that did not exist (a first login); nothing is kept if it fails."""
        self.drain.refuse_new()
        handle = SessionHandle(record, last_used=self._clock())
        async with handle.lock:
            self._handles[record.session_id] = handle
            try:
                await self._revive_locked(handle, operation_id, fresh=True)
            except BaseException:
                del self._handles[record.session_id]
                raise
        return handle

    async def revive(self, handle: SessionHandle, operation_id: str) -> None:
        """Make sure the session's core runs here (revived from its checkpoint if parked)."""
        async with handle.lock:
            if handle.closed:
                raise _ended(handle)
            await self._revive_locked(handle, operation_id)

    async def switch_token(self, handle: SessionHandle, token: str, operation_id: str) -> None:
        """A proven new OpenIM token for the same device: reconnect the core with it.
        If the core cannot start with it, the session keeps its old token (and the caller's error is raised)."""
        async with handle.lock:
            if handle.closed:
                raise _ended(handle)
            if handle.core is not None:
                core, handle.core = handle.core, None
                await self._runner.stop(core, "park")
            old, handle.record.upstream_token = handle.record.upstream_token, token
            try:
                await self._revive_locked(handle, operation_id)
            except BaseException:
                handle.record.upstream_token = old
                raise
        await self.directory.update(handle.record)

    async def _revive_locked(self, handle: SessionHandle, operation_id: str, fresh: bool = False) -> None:
        """Start the core of `handle` (lock held): a new login, or a revival from the checkpoint."""
        if handle.core is not None:
            return
        try:
            handle.fence = await self.leases.acquire(handle.session_id)
        except NotOwnerError:
            self._forget(handle)  # the owner elsewhere holds the truth now
            raise
        try:
            await self.parking.make_room(handle)
            core = await self._runner.start(handle, operation_id, fresh)
            if handle.fence is None:  # the lease lapsed while it logged in: another node may run it
                await self._runner.stop(core, "abandon")
                raise BridgeError(
                    503, ErrCode.ServerInternalError, "session is changing hands", headers={"Retry-After": "1"}
                )
            handle.core = core
            handle.last_used = self._clock()
        except BaseException:
            await self.leases.give_back(handle)
            raise
        for listener in self.on_live:
            listener(handle)
        if not fresh:
            self.revived_total += 1
            log.info(
                "revived session=%s user=%s", handle.session_id[:8], handle.record.user_id, extra=session_fields(handle)
            )

    # -- use -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def use(self, handle: SessionHandle, operation_id: str) -> AsyncIterator[SessionCore]:
        """Hold the session busy (not parkable) and yield its live core, reviving it."""
        handle.busy += 1
        try:
            with self.drain.call():
                if handle.core is None:
                    async with handle.lock:
                        if handle.closed:
                            raise _ended(handle)
                        if handle.core is None:
                            self.drain.refuse_new()
                            await self._revive_locked(handle, operation_id)
                core = handle.core
                if core is None or handle.closed:
                    raise _ended(handle)
                handle.last_used = self._clock()
                yield core
        finally:
            handle.busy -= 1
            handle.last_used = self._clock()

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
            try:
                await self.leases.raise_if_elsewhere(handle.session_id)
            except NotOwnerError:
                self._forget(handle)
                raise

    def stream_opened(self, handle: SessionHandle) -> None:
        """Count a listener (SSE stream, waiting long-poll, oimws socket): 429 past the per-session cap."""
        self.streams.opened(handle)

    def stream_closed(self, handle: SessionHandle) -> None:
        self.streams.closed(handle)

    # -- ending ------------------------------------------------------------

    async def logout(self, handle: SessionHandle, operation_id: str) -> None:
        """End the session: its core logs out of the gateway (2003), streams get `sessionClosed`."""
        await self.require_local(handle)  # another node runs it: forwarded there
        async with handle.lock:
            if handle.core is not None:
                core, handle.core = handle.core, None
                await self._runner.stop(core, "logout", operation_id)
        await self._closer.close(handle, ErrCode.LoginOutError, operation_id)

    async def _core_ended(self, handle: SessionHandle, code: int) -> None:
        async with handle.lock:
            handle.core = None
            if code == ErrCode.SdkInternalError:
                # Its own tasks kept crashing (core/supervise.py): our fault, not the
                # session's. The core saved its checkpoint and stopped; the session
                # stays, and the next call or stream revives it.
                await self.leases.give_back(handle)
                self.crashed_total += 1
                log.error(
                    "core of session=%s crashed repeatedly; parked", handle.session_id[:8], extra=session_fields(handle)
                )
                return
        await self._closer.close(handle, code, None)

    def _closed(self, handle: SessionHandle, ended: bool) -> None:
        if ended:
            self._handles.pop(handle.session_id, None)
        else:
            self._forget(handle)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
