"""The SDK core: one logged-in OpenIM user, its upstream connections and state.

Login state machine (openim-v3.md 4.7, 5.2), connection listener callbacks and
token errors (5.9 step 8), push dispatch to modules (5.10), and the checkpoint
that lets a parked core come back and sync incrementally. Knows nothing of
HTTP serving: the bridge drives it through `call` and receives its listener
callbacks through the `sink` it passes in.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from google.protobuf.message import DecodeError
from pydantic import BaseModel

from core.checkpoint import CheckpointStore
from core.checkpoint_flusher import CheckpointFlusher
from core.errors import SdkError
from core.events import CONN, CONVERSATION, CUSTOM_BUSINESS, BatchSink, Event, EventSink, applying
from core.modules.app_state import AppStateModule
from core.modules.auth import AuthModule
from core.modules.base import Module
from core.modules.conversation import ConversationModule
from core.modules.conversation_settings import ConversationSettingsModule
from core.modules.friend import FriendModule
from core.modules.group import GroupModule
from core.modules.input_states import InputStatesModule
from core.modules.local_messages import LocalMessagesModule
from core.modules.media import MediaModule
from core.modules.message import MessageModule, is_stored
from core.modules.message_advanced import MessageAdvancedModule
from core.modules.presence import PresenceModule
from core.modules.read_state import ReadStateModule
from core.modules.relation_queries import RelationQueryModule
from core.modules.sdk35 import Sdk35Module
from core.modules.third import ThirdModule
from core.modules.user import UserModule
from core.modules.user_commands import COMMAND_NOTIFICATIONS, UserCommandModule
from core.protocol.constants import ContentType, LoginStatus, ReqIdentifier
from core.protocol.envelope import WsResp
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode
from core.protocol.openim_pb2 import MsgData, PushMessages
from core.registry import SdkFunction
from core.supervise import RestartPolicy, stop_tasks, supervise
from core.transport.api import ApiClient
from core.transport.gateway import GatewayClient, GatewayOptions
from core.transport.http1_pool import Http1Pool
from core.untrusted import load_json

__all__ = ["Core", "CoreConfig", "CoreStats", "EndHandler", "token_error_callback"]

log = logging.getLogger("openim.core")

# Called once when the core ends on its own (kicked, token expired or invalid):
# errCode 1506 kicked, 1501 expired, other 150x invalid.
EndHandler = Callable[[int], Awaitable[None]]

_CHECKPOINT_VERSION = 1
# Inbox key of an online-status push (2005): no conversation ID has this form.
_STATUS_PUSH = "<status>"
# Modules synced after the others, one after the other: conversations are filled in by
# the message sync, which stays last (the SDK's syncFlag runs IncrSyncConversations after
# its concurrent group and friend syncs, internal/conversation_msg/notification.go).
_SYNCED_LAST = ("conversation", "message")


@dataclass(slots=True)
class _Held:
    """Events (and mark-only progress) a task fires while held, to be sent later at once."""

    events: list[Event] = field(default_factory=list)
    marks: list[tuple[str, int]] = field(default_factory=list)
    # Cleared when the holder sends them: a task started meanwhile copied this context,
    # and what it fires later must not go into a list nobody sends any more.
    open: bool = True


# Held events: of each module while modules sync concurrently (sent in module order), and
# of a dispatcher batch (sent in one sink call, so one commit of the log: issue 14).
_held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("held_events", default=None)


@dataclass(slots=True)
class CoreConfig:
    """What InitSDK configures: upstream addresses and the device's platform."""

    api_addr: str
    ws_addr: str
    platform_id: int
    gateway: GatewayOptions = field(default_factory=GatewayOptions)
    # Dirty checkpoints are written at most this often (and always on park/logout).
    checkpoint_interval: float = 2.0
    # OnRecvNewMessages (one list per batch) instead of one OnRecvNewMessage each,
    # as when an SDK app registers the batch listener (openim-v3.md 5.7).
    batch_messages: bool = False
    # Pushes waiting for the dispatcher. Overflow policy "drop-and-resync": the
    # gateway reader never waits for the dispatcher (a stalled reader misses the
    # server's pings and is dropped), so when the inbox is full a push is
    # dropped and counted (CoreStats.inbox_dropped), and once the dispatcher has
    # caught up it runs a full seq sync, as after a reconnect: every stored
    # message is recovered by seq, in order, once. Online-only messages (seq 0:
    # typing, isOnlineOnly) are lost, as OpenIM loses them for a slow client.
    inbox_size: int = 10_000
    # A long-lived task (dispatch, checkpoint saver, gateway loop) that crashes
    # more often than this is not restarted again: the core ends with an event.
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)


@dataclass(slots=True)
class CoreStats:
    """What a core skipped or recovered from: counters a metrics exporter can read."""

    pushed: int = 0  # messages received in pushes
    inbox_dropped: int = 0  # pushes dropped on a full inbox (stored ones recovered by seq)
    overflow_resyncs: int = 0  # seq syncs run to recover dropped pushes
    bad_pushes: int = 0  # pushes or notifications that do not decode: skipped
    failed_pushes: int = 0  # pushes whose handling raised: skipped, the loop goes on
    bad_frames: int = 0  # gateway frames that are not an envelope: skipped
    task_crashes: int = 0  # long-lived tasks that raised and were restarted or gave up


class Core:
    # The modules are slots, the rest a __dict__: past 30 attributes CPython stops sharing
    # the keys of instance dicts, and each core's dict was a 1.7 KB table of its own (issue 14).
    __slots__ = (
        *("auth", "user", "friend", "group", "conversation", "message", "media", "third", "app_state"),
        *("presence", "input_states", "user_commands", "relation_queries", "conversation_settings"),
        *("read_state", "message_advanced", "sdk35", "local_messages", "__dict__", "__weakref__"),
    )

    def __init__(
        self,
        config: CoreConfig,
        *,
        http: httpx.AsyncClient,
        sink: EventSink,
        store: CheckpointStore | None = None,
        on_end: EndHandler | None = None,
        batch_sink: BatchSink | None = None,
        flusher: CheckpointFlusher | None = None,
        api_pool: Http1Pool | None = None,
    ) -> None:
        self.config = config
        self.status = LoginStatus.LOGOUT
        self.user_id = ""
        self.api = ApiClient(http, config.api_addr, pool=api_pool)  # api_pool: a lean pool for http upstreams
        self.gateway: GatewayClient | None = None
        self._sink = sink
        self._store = store
        # With a flusher (the bridge's pool), periodic saves are its batches: no
        # saver task and timer per core (issue 14).
        self._flusher = flusher
        self._on_end = on_end
        # Held events and mark-only progress, in one call; without it, events one by one
        # and the marks dropped (a core whose log keeps no delivery progress).
        self._batch_sink = batch_sink
        self._inbox = _Inbox(max(1, config.inbox_size))
        self._resync_pending = False  # pushes were dropped: sync by seq once caught up
        self.stats = CoreStats()
        # The dispatcher runs while there are pushes to apply and ends when the inbox is
        # empty: an idle session has no task of its own but its gateway reader (issue 14).
        self._worker: asyncio.Task[None] | None = None
        self._dispatching = False  # pushes may start the dispatcher (logged in, not parking)
        self._saver: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None
        self._ending: asyncio.Task[None] | None = None
        self._dirty = False
        self._save_lock = asyncio.Lock()
        # Held while a batch of pushes or a sync is applied, and while a checkpoint
        # is taken: a checkpoint then never records a seq (or a state) whose events
        # are still on their way to the log (each emit returns once its event is
        # durable), so after a crash the log is never behind its checkpoint (issue 12).
        self._state_lock = asyncio.Lock()
        # The writer generation its checkpoints carry (the bridge's owner fence):
        # a stale core's save is refused by the store, never overwrites a newer one.
        self.fence: int | None = None
        self._checkpoints_held = False
        self.auth = AuthModule(self)
        self.user = UserModule(self)
        self.friend = FriendModule(self)
        self.group = GroupModule(self)
        self.conversation = ConversationModule(self)
        self.message = MessageModule(self)
        self.media = MediaModule(self)
        self.third = ThirdModule(self)
        self.app_state = AppStateModule(self)
        self.presence = PresenceModule(self)
        self.input_states = InputStatesModule(self)
        self.user_commands = UserCommandModule(self)
        self.relation_queries = RelationQueryModule(self)
        self.conversation_settings = ConversationSettingsModule(self)
        self.read_state = ReadStateModule(self)
        self.message_advanced = MessageAdvancedModule(self)
        self.sdk35 = Sdk35Module(self)
        self.local_messages = LocalMessagesModule(self)
        # Sync order matters: conversations are filled in by the message sync, which
        # stays last so its events come after every other module's (issue 15 modules
        # without a sync of their own are listed for their checkpoint and functions).
        self._modules: dict[str, Module] = {
            "auth": self.auth,
            "user": self.user,
            "user_commands": self.user_commands,
            "presence": self.presence,
            "app_state": self.app_state,
            "friend": self.friend,
            "group": self.group,
            "media": self.media,
            "third": self.third,
            "input_states": self.input_states,
            "relation_queries": self.relation_queries,
            "conversation_settings": self.conversation_settings,
            "read_state": self.read_state,
            "message_advanced": self.message_advanced,
            "sdk35": self.sdk35,
            "local_messages": self.local_messages,
            "conversation": self.conversation,
            "message": self.message,
        }

    @property
    def checkpoints(self) -> CheckpointStore | None:
        return self._store

    @property
    def platform_id(self) -> int:
        return self.config.platform_id

    # -- events ----------------------------------------------------------

    async def emit(
        self,
        listener: str,
        callback: str,
        data: Any,
        operation_id: str | None,
        marks: tuple[tuple[str, int], ...] | None = None,
    ) -> None:
        """Fire a callback; it carries the message being applied (see `applying`) unless `marks` says otherwise."""
        if marks is None:
            current = applying.get()
            marks = () if current is None else (current,)
        held = _held.get()
        if held is not None and held.open:
            held.events.append(Event(listener, callback, data, operation_id, marks))
            return
        await self._sink(Event(listener, callback, data, operation_id, marks))

    async def mark_delivered(self, marks: tuple[tuple[str, int], ...]) -> None:
        """Record delivery progress no event carries (our own messages coming back),
        so a core revived elsewhere does not deliver them to us as new."""
        held = _held.get()
        if held is not None and held.open:
            held.marks.extend(marks)
        elif self._batch_sink is not None:
            await self._batch_sink((), marks)

    async def _send(self, events: list[Event], marks: tuple[tuple[str, int], ...] = ()) -> None:
        """Send held events in order, with their mark-only progress: into the holder
        around us if there is one, else at once (:meth:`_send_now`)."""
        outer = _held.get()
        if outer is not None and outer.open:
            outer.events.extend(events)
            outer.marks.extend(marks)
        else:
            await self._send_now(events, marks)

    async def _send_now(self, events: list[Event], marks: tuple[tuple[str, int], ...]) -> None:
        """One batch sink call (one append of the log); without one, event by event."""
        if self._batch_sink is not None:
            if events or marks:
                await self._batch_sink(events, marks)
            return
        for event in events:
            await self._sink(event)

    async def _flush_held(self) -> None:
        """Send what the current holder holds so far, before an event that must follow at once."""
        held = _held.get()
        if held is not None and held.open:
            events, marks = held.events, tuple(held.marks)
            held.events, held.marks = [], []
            await self._send_now(events, marks)

    async def _holding(self, body: Awaitable[bool]) -> bool:
        """Run `body` holding the events it fires, then send them in one call: a batch of
        pushes is one append of the event log, not one per event (issue 14). Run under
        _state_lock, so no checkpoint is taken before they are durable. A cancelled body
        sends nothing: its state is not checkpointed either, and is pulled again by seq."""
        held = _Held()
        token = _held.set(held)
        try:
            try:
                result = await body
            finally:
                _held.reset(token)
                held.open = False
        except asyncio.CancelledError:
            raise
        except BaseException:
            await self._send(held.events, tuple(held.marks))  # what was applied before it failed
            raise
        await self._send(held.events, tuple(held.marks))
        return result

    async def fire_together(self, body: Awaitable[None]) -> None:
        """Run `body` (a call's state change and its flush) holding the events and marks it
        fires, then send them in one sink call: one append of the log, not one per event
        (issue 14: a send's conversation events and its echo's mark were separate commits).
        Unlike a dispatcher batch, a failed or cancelled body still sends what it fired: a
        call does not hold _state_lock, so its state may be checkpointed at any time."""
        held = _Held()
        token = _held.set(held)
        try:
            await body
        finally:
            _held.reset(token)
            held.open = False
            await self._send(held.events, tuple(held.marks))

    def checkpoint_dirty(self) -> None:
        self._dirty = True
        if self._flusher is not None and self.user_id:
            self._flusher.mark(self)

    def checkpoint_row(self) -> tuple[str, int, dict[str, Any], int | None] | None:
        """This core's checkpoint for a flusher batch (None: it may not write one)."""
        if self._store is None or not self.user_id or self._checkpoints_held:
            return None
        if self._state_lock.locked():
            # Mid-batch: the events of what is applied may not be in the log yet, and a
            # checkpoint must never be ahead of it (see _state_lock). Next batch, then.
            if self._flusher is not None:
                self._flusher.mark(self)
            return None
        self._dirty = False
        return self.user_id, self.platform_id, self._snapshot(), self.fence

    def _snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {"v": _CHECKPOINT_VERSION}
        data.update({name: m.snapshot() for name, m in self._modules.items()})
        return data

    def resync_later(self) -> None:
        """A pull the server did not answer for a conversation: sync by seq once the
        pushes queued now are handled (the same recovery as for dropped pushes)."""
        self._resync_pending = True

    # -- login / logout --------------------------------------------------

    async def login(
        self, user_id: str, token: str, operation_id: str, *, delivered: dict[str, int] | None = None
    ) -> None:
        """Connect, sync from the checkpoint, and become LOGGED.

        Unlike the Go SDK (which answers before the socket is up), the first
        handshake is awaited so a bad token fails the login with its errCode.
        `delivered` (conversationID -> seq, from the event log's marks) raises
        the checkpoint's sync positions: what was already delivered is not
        delivered again, even if the checkpoint predates it.
        """
        if self.status != LoginStatus.LOGOUT:
            raise SdkError(ErrCode.LoginRepeatError, detail="already logged in")
        self.status = LoginStatus.LOGGING
        self.user_id = user_id
        self.api.token = token
        try:
            if self._store is not None:
                saved = await self._store.load(user_id, self.platform_id)
                if saved and saved.get("v") == _CHECKPOINT_VERSION:
                    for name, module in self._modules.items():
                        module.restore(saved.get(name) or {})
            if delivered:
                self.message.skip_delivered(delivered)
            self._dispatching = True
            if self._flusher is None:
                self._saver = self._supervise(f"core-saver:{user_id}", self._save_periodically)
            self.gateway = GatewayClient(
                self.config.ws_addr, user_id, token, self.platform_id, self, self.config.gateway
            )
            self.gateway.background = self.app_state.background
            await self.gateway.start(operation_id)
            await self._sync_all(operation_id)
            await self.save_checkpoint()
        except BaseException:
            await self._stop(send_logout=False)
            self.status = LoginStatus.LOGOUT
            raise
        self.status = LoginStatus.LOGGED
        await self.save_checkpoint()

    async def logout(self, operation_id: str) -> None:
        """Log out: tell the gateway (2003), stop every loop, keep the checkpoint.

        Stops even when the checkpoint cannot be saved (the error is raised after).
        """
        try:
            await self.save_checkpoint()
        finally:
            await self._stop(send_logout=True)
            self.status = LoginStatus.LOGOUT

    async def park(self) -> None:
        """Disconnect and persist the checkpoint; a later `login` resumes from it.

        The dispatcher and any resync are stopped between two batches first, so
        the checkpoint is the state after the last event sent and nothing is
        applied after it: a revived core repeats no event, state events included
        (pushes still queued are pulled again by seq). Disconnects even when the
        checkpoint cannot be saved (the error is raised after).
        """
        try:
            async with self._state_lock:
                self._dispatching = False
                tasks = (self._resync, self._worker)
                self._resync = self._worker = None
                await stop_tasks(tasks)
                await self._save_locked(force=True)
        finally:
            await self._stop(send_logout=False)
            self.status = LoginStatus.LOGOUT

    async def abandon(self) -> None:
        """Stop at once without saving or telling the server: another owner took over."""
        await self._stop(send_logout=False)
        self.status = LoginStatus.LOGOUT

    def hold_checkpoints(self) -> None:
        """Write no checkpoint any more: this core no longer speaks for its session
        (another node took it over, or its events could not be logged)."""
        self._checkpoints_held = True

    async def save_checkpoint(self, force: bool = False) -> None:
        if self._store is None or not self.user_id or self._checkpoints_held or not (self._dirty or force):
            return
        async with self._state_lock:  # between batches: see _state_lock
            await self._save_locked(force)

    async def _save_locked(self, force: bool) -> None:
        if self._store is None or not self.user_id or self._checkpoints_held or not (self._dirty or force):
            return
        # Never between a flusher batch's snapshot and its write (see core/checkpoint_flusher.py).
        async with self._flusher.exclusive() if self._flusher else contextlib.nullcontext(), self._save_lock:
            self._dirty = False
            if self._flusher is not None:
                self._flusher.forget(self)
            data = self._snapshot()
            if not await self._store.save(self.user_id, self.platform_id, data, fence=self.fence):
                log.warning("checkpoint of user=%s not saved: fence %s is stale", self.user_id, self.fence)

    async def _stop(self, send_logout: bool) -> None:
        """Stop every loop; never raises what a task died of, never waits long on one."""
        if self._flusher is not None:
            self._flusher.forget(self)  # what is left to save, park and logout saved
        self._dispatching = False
        tasks = (self._resync, self._worker, self._saver)
        self._resync = self._worker = self._saver = None
        await stop_tasks(tasks)
        gateway, self.gateway = self.gateway, None
        if gateway is not None:
            try:
                await gateway.close(send_logout=send_logout)
            except Exception:
                log.exception("closing the gateway of user=%s failed", self.user_id)

    # -- supervision ---------------------------------------------------------

    def _supervise(self, name: str, body: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        return supervise(
            name, body, policy=self.config.restart_policy, on_crash=self._task_crashed, on_give_up=self.on_crashed
        )

    async def _task_crashed(self, exc: BaseException) -> bool:
        self.stats.task_crashes += 1
        self._resync_pending = True  # what the task was doing may be lost: recover it by seq
        return True

    async def on_crashed(self, exc: BaseException) -> None:
        """A long-lived task keeps crashing: end the core with an event, never stay "live" and mute."""
        detail = {"errCode": int(ErrCode.SdkInternalError), "errMsg": f"core task failed: {type(exc).__name__}"}
        await self._end(ErrCode.SdkInternalError, "OnConnectFailed", detail, None)

    def dead_tasks(self) -> list[str]:
        """The long-lived tasks of a logged-in core that are not running (normally none)."""
        if self.status != LoginStatus.LOGGED:
            return []
        # The dispatcher is not listed: it runs only while pushes wait (see _wake_dispatcher).
        tasks = [] if self._flusher is not None else [("saver", self._saver)]
        dead = [name for name, t in tasks if t is None or t.done()]
        if self.gateway is None or not self.gateway.running:
            dead.append("gateway")
        return dead

    # -- calls -----------------------------------------------------------

    async def call(self, fn: SdkFunction, params: BaseModel, operation_id: str) -> Any:
        """Run one registered SDK function; every function needs status LOGGED (5.1)."""
        if self.status != LoginStatus.LOGGED:
            raise SdkError(ErrCode.ResourceLoadNotCompleteError, detail="not logged in")
        method = getattr(getattr(self, _owner_attrs()[fn.owner]), fn.method)
        try:
            result = await method(params, operation_id)
        except SdkError as exc:
            if exc.code in TOKEN_ERRORS:
                await self._token_error(exc.code, exc.msg, operation_id)
            raise
        return result

    # -- sync and pushes ---------------------------------------------------

    async def _sync_all(self, operation_id: str) -> None:
        """Sync every module; OnSyncServerStart/Finish/Failed around it (5.9 step 3)."""
        async with self._state_lock:
            reinstalled = not self.message.has_baseline
            await self.emit(CONVERSATION, "OnSyncServerStart", reinstalled, operation_id)
            try:
                # OnSyncServerProgress (1..100) on the reinstall path only, as conversation_msg
                # notification.go syncFlag reports it (AppDataSyncStart .. AppDataSyncFinish).
                modules = list(self._modules.values())
                if reinstalled:
                    await self.emit(CONVERSATION, "OnSyncServerProgress", 1, operation_id)
                first = [m for name, m in self._modules.items() if name not in _SYNCED_LAST]
                held = await self._sync_concurrently(first, operation_id)
                for i, module in enumerate(modules, 1):
                    if i <= len(first):
                        await self._release(held[i - 1])
                    else:
                        await module.sync(operation_id)
                    if reinstalled and i < len(modules):
                        progress = max(1, i * 99 // len(modules))
                        await self.emit(CONVERSATION, "OnSyncServerProgress", progress, operation_id)
                await self.message.flush_batch(operation_id)
            except SdkError as exc:
                if exc.code not in TOKEN_ERRORS:
                    await self.emit(CONVERSATION, "OnSyncServerFailed", reinstalled, operation_id)
                raise
            if reinstalled:
                await self.emit(CONVERSATION, "OnSyncServerProgress", 100, operation_id)
            await self.emit(CONVERSATION, "OnSyncServerFinish", reinstalled, operation_id)

    async def _sync_concurrently(self, modules: list[Module], operation_id: str) -> list[_Held]:
        """Sync `modules` at once (their upstream calls overlap, as the SDK's goroutines
        do), holding each one's events; returns them per module, for the caller to send
        in module order: the events are those, and in the order, of one sync after the
        other. If one fails, every module's events are sent all the same (the others'
        state changed too: a later sync would not fire them again), then its error is
        raised."""
        held = [_Held() for _ in modules]

        async def one(i: int) -> None:
            _held.set(held[i])
            await modules[i].sync(operation_id)

        tasks = [asyncio.ensure_future(one(i)) for i in range(len(modules))]
        try:
            await asyncio.wait(tasks)
        finally:
            await stop_tasks(task for task in tasks if not task.done())  # we were cancelled
        failed = [exc for task in tasks if not task.cancelled() and (exc := task.exception()) is not None]
        if failed:
            for one_held in held:
                await self._release(one_held)
            raise failed[0]
        return held

    async def _release(self, held: _Held) -> None:
        held.open = False
        await self._send(held.events, tuple(held.marks))

    async def _dispatch(self) -> None:
        """Apply pushes in arrival order; conversation events once per batch.

        A push that fails is skipped with one log line and a counter; only a
        token error ends the loop (and the core).
        """
        while True:
            if self._resync_pending and self._inbox.empty():
                self._resync_pending = False
                if not await self._recover_dropped():
                    return
            if self._inbox.empty():
                return  # caught up: the next push starts a dispatcher again
            batch = [self._inbox.get_nowait()]
            while not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            async with self._state_lock:  # a batch and its flush are applied whole (see _state_lock)
                # With a batch sink, the batch's events are one append; without one, each is
                # sent as fired and a failing one skips only its push (_apply_push).
                applied = self._apply_batch(batch)
                if not await (applied if self._batch_sink is None else self._holding(applied)):
                    return

    def _wake_dispatcher(self) -> None:
        """Start the dispatcher for the pushes just queued unless it runs. It ends only
        when it finds the inbox empty, with no await between that check and its end, so
        a push is never left queued without one."""
        if self._dispatching and (self._worker is None or self._worker.done()):
            self._worker = self._supervise(f"core-dispatch:{self.user_id}", self._dispatch)

    async def _apply_batch(self, batch: list[tuple[str, MsgData, str]]) -> bool:
        """Apply pushes and flush their conversation events; False when a token error ended the core."""
        operation_id = batch[-1][2]
        for conv_id, msg, op in batch:
            if not await self._apply_push(conv_id, msg, op):
                return False
        try:
            await self.message.flush_batch(operation_id)
            await self.conversation.flush(operation_id)
        except SdkError as exc:
            log.warning("conversation flush failed for user=%s: %s", self.user_id, exc)
        except Exception:
            self.stats.failed_pushes += 1
            log.exception("conversation flush failed for user=%s", self.user_id)
        return True

    async def _apply_push(self, conv_id: str, msg: MsgData, op: str) -> bool:
        """Apply one push; False when it ended the core (a token error)."""
        try:
            if conv_id == _STATUS_PUSH:
                await self.presence.on_status_push(msg.content, op)
            elif not is_stored(msg) and conv_id.startswith("n_"):
                await self.route_notification(msg, op)
            else:
                await self.message.on_pushed(conv_id, msg, op)
        except SdkError as exc:
            if exc.code in TOKEN_ERRORS:
                await self._token_error(exc.code, exc.msg, op)
                return False
            log.warning("push %s in %s failed for user=%s: %s", msg.contentType, conv_id, self.user_id, exc)
        except Exception:
            self.stats.failed_pushes += 1
            log.exception(
                "push contentType=%s seq=%s in %s skipped for user=%s", msg.contentType, msg.seq, conv_id, self.user_id
            )
        return True

    async def _recover_dropped(self) -> bool:
        """Drop-and-resync, second half: sync by seq what the full inbox dropped."""
        self.stats.overflow_resyncs += 1
        log.warning("user=%s: recovering dropped pushes by seq sync", self.user_id)
        try:
            await self._sync_all("inbox-overflow")
            await self.save_checkpoint()
        except SdkError as exc:
            if exc.code in TOKEN_ERRORS:
                await self._token_error(exc.code, exc.msg, None)
                return False
            log.warning("seq sync after dropped pushes failed for user=%s: %s", self.user_id, exc)
        except Exception:
            log.exception("seq sync after dropped pushes failed for user=%s", self.user_id)
        return True

    async def route_notification(self, msg: MsgData, operation_id: str) -> None:
        """Notification content types to the module that owns them (openim-v3.md 5.10)."""
        ct = msg.contentType
        if ContentType.FRIEND_NOTIFICATION_BEGIN < ct < ContentType.FRIEND_NOTIFICATION_END:
            await self.friend.on_notification(msg, operation_id)
        if ct in (ContentType.USER_INFO_UPDATED, ContentType.FRIEND_INFO_UPDATED):
            await self.user.on_notification(msg, operation_id)
        if ct in COMMAND_NOTIFICATIONS:
            await self.user_commands.on_notification(msg, operation_id)
        if ContentType.GROUP_NOTIFICATION_BEGIN < ct < ContentType.GROUP_NOTIFICATION_END:
            await self.group.on_notification(msg, operation_id)
        if ct in (ContentType.CONVERSATION_CHANGE, ContentType.CONVERSATION_PRIVATE_CHAT):
            await self.conversation.on_notification(msg, operation_id)
        if ct == ContentType.HAS_READ_RECEIPT:  # only unstored ones get here: one's own other device
            await self.message.on_own_read_receipt(msg, operation_id)
        if ct == ContentType.BUSINESS:
            # {"detail": "<string>"}; anything else is skipped, as the Go SDK's
            # unmarshal into NotificationElem would fail.
            try:
                content = load_json(msg.content) if msg.content else {}
            except ValueError:
                content = None
            detail = content.get("detail", "") if isinstance(content, dict) else None
            if not isinstance(detail, str):
                self.stats.bad_pushes += 1
                log.warning("business notification for user=%s skipped: no string detail", self.user_id)
                return
            await self.emit(CUSTOM_BUSINESS, "OnRecvCustomBusinessMessage", detail, operation_id)

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.checkpoint_interval)
            try:
                await self.save_checkpoint()
            except Exception:
                log.exception("checkpoint save failed for user=%s", self.user_id)

    # -- GatewayListener -------------------------------------------------

    async def on_connecting(self) -> None:
        await self.emit(CONN, "OnConnecting", None, None)

    async def on_connected(self, first: bool) -> None:
        await self.emit(CONN, "OnConnectSuccess", None, None)
        if not first:
            # Pushes sent while we were disconnected are not replayed (2.9): sync.
            self._resync = asyncio.create_task(self._resync_after_reconnect())

    async def _resync_after_reconnect(self) -> None:
        """One-shot; a failure is logged and the next reconnect (or a gap) syncs again."""
        try:
            await self._sync_all("reconnect")
            await self.save_checkpoint()
        except SdkError as exc:
            if exc.code in TOKEN_ERRORS:
                await self._token_error(exc.code, exc.msg, None)
            else:
                log.warning("resync failed for user=%s: %s", self.user_id, exc)
        except Exception:
            self.stats.task_crashes += 1
            log.exception("resync failed for user=%s", self.user_id)

    async def on_connect_failed(self, code: int, msg: str) -> None:
        if code == ErrCode.SdkInternalError:
            self.stats.task_crashes += 1  # the gateway's loop crashed (it redials after this)
        await self.emit(CONN, "OnConnectFailed", {"errCode": code, "errMsg": msg}, None)

    def on_bad_frame(self, reason: str) -> None:
        self.stats.bad_frames += 1

    async def on_push(self, resp: WsResp) -> None:
        """Queue a push for the dispatcher; never raises, never waits (see CoreConfig.inbox_size)."""
        if resp.req_identifier == ReqIdentifier.SUB_USER_ONLINE_STATUS:
            # Through the inbox, so status callbacks keep their order with the rest.
            try:
                self._inbox.put_nowait((_STATUS_PUSH, MsgData(content=resp.data), resp.operation_id))
            except asyncio.QueueFull:
                self.stats.inbox_dropped += 1
            self._wake_dispatcher()
            return
        if resp.req_identifier != ReqIdentifier.PUSH_MSG:
            return
        try:
            push = PushMessages.FromString(resp.data)
        except DecodeError as exc:
            self.stats.bad_pushes += 1
            log.warning("undecodable push for user=%s skipped: %s", self.user_id, exc)
            return
        dropped = 0
        for group in (push.notificationMsgs, push.msgs):
            for conv_id, pulled in group.items():
                for msg in pulled.Msgs:
                    self.stats.pushed += 1
                    try:
                        self._inbox.put_nowait((conv_id, msg, resp.operation_id))
                    except asyncio.QueueFull:
                        dropped += 1
        if dropped:
            if not self._resync_pending:  # one line per overflow, not per push
                log.warning("inbox of user=%s is full: dropping pushes until a seq sync", self.user_id)
            self.stats.inbox_dropped += dropped
            self._resync_pending = True
        self._wake_dispatcher()

    async def on_kicked(self) -> None:
        await self._end(ErrCode.TokenKickedError, "OnKickedOffline", None, None)

    async def on_token_error(self, code: int, msg: str) -> None:
        await self._token_error(code, msg, None)

    async def _token_error(self, code: int, msg: str, operation_id: str | None) -> None:
        callback = token_error_callback(code)
        await self._end(code, callback, msg if callback == "OnUserTokenInvalid" else None, operation_id)

    async def _end(self, code: int, callback: str, data: Any, operation_id: str | None) -> None:
        """Fire the callback once, then stop without contacting the server (apicb.go)."""
        if self._ending is not None or self.status == LoginStatus.LOGOUT:
            return
        self.status = LoginStatus.LOGOUT
        # Sent now, after what the batch fired before it, not held: the teardown below cancels the batch.
        await self._flush_held()
        current = applying.get()
        await self._sink(Event(CONN, callback, data, operation_id, () if current is None else (current,)))
        # Torn down from a task of its own: we may be running inside the
        # gateway or dispatch task that _stop cancels.
        self._ending = asyncio.create_task(self._finish_end(code))

    async def _finish_end(self, code: int) -> None:
        """Runs unawaited: it must not fail before telling the owner (on_end)."""
        try:
            with contextlib.suppress(Exception):
                await self.save_checkpoint(force=True)
            await self._stop(send_logout=False)
        finally:
            if self._on_end is not None:
                try:
                    await self._on_end(code)
                except Exception:
                    log.exception("end handler of user=%s failed", self.user_id)


class _Inbox:
    """asyncio.Queue's non-waiting half on one deque: the dispatcher never awaits its inbox,
    and an asyncio.Queue is three deques, 2.3 KB per core (issue 14)."""

    __slots__ = ("_items", "maxsize")

    def __init__(self, maxsize: int) -> None:
        # Made at the first push: an empty deque is 760 bytes, and most idle cores get none.
        self._items: deque[tuple[str, MsgData, str]] | tuple[()] = ()
        self.maxsize = maxsize

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def put_nowait(self, item: tuple[str, MsgData, str]) -> None:
        if len(self._items) >= self.maxsize:
            raise asyncio.QueueFull
        if not isinstance(self._items, deque):
            self._items = deque()
        self._items.append(item)

    def get_nowait(self) -> tuple[str, MsgData, str]:
        if not isinstance(self._items, deque):
            raise IndexError("pop from an empty inbox")
        return self._items.popleft()


@functools.cache
def _owner_attrs() -> dict[str, str]:
    """Registry owner (a module class name, or a base's) -> the Core attribute holding it:
    one table for every core instead of one dict per core."""
    probe = Core(CoreConfig("", "", 0), http=None, sink=None)  # type: ignore[arg-type]
    attrs = {name: getattr(probe, name) for name in Core.__slots__ if not name.startswith("__")}
    return {cls.__name__: attr for attr, m in attrs.items() if isinstance(m, Module) for cls in type(m).__mro__}


def token_error_callback(code: int) -> str:
    """The OnConnListener callback OpenIM fires for a token errCode (apicb.go)."""
    if code == ErrCode.TokenExpiredError:
        return "OnUserTokenExpired"
    if code == ErrCode.TokenKickedError:
        return "OnKickedOffline"
    return "OnUserTokenInvalid"
