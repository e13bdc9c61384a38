"""Webhook delivery: each session's events POSTed to the operator's and the session's URL.

Fits the event log's cursor model (DESIGN.md "Events"): a worker per
(session, target) reads the log after its stored cursor, POSTs one event at a
time in id order, and moves the cursor when the receiver answers 2xx. So
delivery is at least once (a crash between the 2xx and the cursor write
repeats one event: receivers dedupe on `X-Bridge-Delivery`, which is
`<sessionID>:<event id>` and stable across retries and restarts), in order
per session, and a receiver that was down gets everything the log still has.

Overflow policy "log retention": the worker never holds events itself; the
queue is the session's event log, bounded by BRIDGE_EVENT_MAX /
BRIDGE_EVENT_MAX_BYTES / BRIDGE_EVENT_MAX_AGE. A receiver that lags past
retention loses the oldest events (counted in
openim_bridge_webhook_events_lost) and delivery goes on from the oldest kept.
The core writes the log whatever the receiver does: a webhook never blocks a
session. A failed POST is retried with exponential backoff and full jitter up
to BRIDGE_WEBHOOK_MAX_ATTEMPTS, then counted as a dead letter and skipped.

Workers run on the node that runs the session's core (the lease owner), found
by a scan every BRIDGE_WEBHOOK_SCAN_INTERVAL seconds of the sessions that changed
since the last one (a core started here, a target set, a worker ended), and of
every live session once every `_FULL_SCAN_EVERY` scans when other nodes share the
store (a target set through another node); an idle node asks its store nothing
(issue 14). Cursors live in the
WebhookStore (Redis in cluster mode), so the next owner resumes. A session's own
webhook keeps its core from being parked for idleness, as an open stream does;
the operator's does not (it would keep every session live).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from bridge.eventlog import EventLog, StoredEvent
from bridge.pool import SessionPool
from bridge.session_handle import SessionHandle
from bridge.settings import BridgeSettings
from bridge.sse import SESSION_CLOSED_EVENT
from bridge.webhook_signing import SIGNATURE_HEADER, sign
from bridge.webhook_store import CachedTargets, WebhookStore, WebhookTarget
from bridge.webhook_targets import public_only

__all__ = ["WebhookDispatcher", "webhook_clients", "webhook_payload"]

log = logging.getLogger("openim.bridge.webhooks")

_BATCH = 100
_IDLE_WAIT = 5.0  # how long a worker waits for a new event before checking its session again
_ANSWER_BYTES = 64 * 1024  # of a receiver's answer body read to keep its connection; the rest is dropped
# Every this many scans, every live session is looked at, not only those that changed: a
# target set through a node that does not run the session is found within that many.
_FULL_SCAN_EVERY = 30


def webhook_payload(handle: SessionHandle, ev: StoredEvent) -> dict[str, Any]:
    """The POSTed JSON: `{sessionID, userID, platformID, id, event, operationID, data}`."""
    stored = json.loads(ev.data)
    inner = stored.get("data") if isinstance(stored, dict) and "callback" in stored else stored
    op = stored.get("operationID") if isinstance(stored, dict) else None
    return {
        "sessionID": handle.session_id,
        "userID": handle.record.user_id,
        "platformID": handle.record.platform_id,
        "id": ev.id,
        "event": ev.event,
        "operationID": op,
        "data": inner,
    }


@contextlib.asynccontextmanager
async def webhook_clients(settings: BridgeSettings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The HTTP clients for the operator's webhook and for the sessions' own.

    Not the pool the cores call OpenIM with: a slow receiver must never hold one of its
    connections. One POST at a time per worker bounds the connections, so no cap (no receiver
    waits on another's). The sessions' client connects only to public addresses, checked at
    connect time (bridge/webhook_targets.py), unless BRIDGE_WEBHOOK_ALLOW_PRIVATE."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=50)
    async with contextlib.AsyncExitStack() as stack:
        operator = await stack.enter_async_context(httpx.AsyncClient(timeout=settings.webhook_timeout, limits=limits))
        own = operator
        if not settings.webhook_allow_private:
            transport = public_only(httpx.AsyncHTTPTransport(limits=limits))
            own = await stack.enter_async_context(
                httpx.AsyncClient(timeout=settings.webhook_timeout, transport=transport)
            )
        yield operator, own


class WebhookDispatcher:
    def __init__(
        self,
        settings: BridgeSettings,
        pool: SessionPool,
        events: EventLog,
        store: WebhookStore,
        http: httpx.AsyncClient,
        session_http: httpx.AsyncClient | None = None,
        *,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._events = events
        # Asked before every delivery, changed by the routes through it (PUT/DELETE /v1/session/webhook).
        self.store = CachedTargets(store)
        self._http = http  # for the operator's URL
        self._session_http = session_http or http  # for the sessions' own: see webhook_clients
        self._jitter = jitter
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._scanner: asyncio.Task[None] | None = None
        self._rescan = asyncio.Event()
        # Sessions to look at in the next scan (see _FULL_SCAN_EVERY for the others).
        self._dirty: set[str] = set()
        self._scans = -1  # the first scan is a full one
        pool.on_live.append(self._went_live)
        self.delivered_total = 0
        self.failed_attempts_total = 0
        self.dead_letters_total = 0
        self.events_lost_total = 0

    @property
    def operator_target(self) -> WebhookTarget | None:
        s = self._settings
        return WebhookTarget("operator", s.webhook_url, s.webhook_secret or "") if s.webhook_url else None

    def start(self) -> None:
        self._scanner = asyncio.create_task(self._scan_forever(), name="webhook-scanner")

    def kick(self, session_id: str | None = None) -> None:
        """Scan now (a session's target was just set): that session, or every live one."""
        if session_id is None:
            self._scans = -1  # the next scan is a full one
        else:
            self._dirty.add(session_id)
        self._rescan.set()

    def _went_live(self, handle: SessionHandle) -> None:
        self._dirty.add(handle.session_id)
        self._rescan.set()

    def _worker_done(self, handle: SessionHandle, _: object) -> None:
        if handle.core is not None and not handle.closed:
            self._dirty.add(handle.session_id)  # still live: the next scan restarts what it needs

    async def aclose(self) -> None:
        tasks = [t for t in (self._scanner, *self._workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    async def revive_hooked(self) -> int:
        """Run the core of every session with a webhook of its own: after a restart (or its node's
        death) nothing else would, since such a session may never call or stream. Returns how many."""
        revived = 0
        for sid in await self.store.hooked_sessions():
            try:
                record = await self._pool.directory.get(sid)
                if record is None or record.ended_code is not None:
                    continue
                handle = self._pool.track(record)
                await self._pool.ensure_running(handle, f"webhook-revive-{sid[:8]}")
                revived += handle.core is not None
            except Exception as exc:  # one session's failure must not keep the others deaf
                log.warning("webhook session %s not revived: %s", sid[:8], exc)
        return revived

    async def _scan_forever(self) -> None:
        try:
            revived = await self.revive_hooked()
            if revived:
                log.info("revived %d sessions with webhooks of their own", revived)
        except Exception:  # a store outage: their next call or stream revives them
            log.exception("webhook sessions not revived at start-up")
        while True:
            try:
                await self.scan()
            except Exception:  # a store outage: try again at the next tick
                log.exception("webhook scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rescan.wait(), self._settings.webhook_scan_interval)
            self._rescan.clear()

    def _running(self, session_id: str, kind: str) -> bool:
        worker = self._workers.get((session_id, kind))
        return worker is not None and not worker.done()

    async def scan(self, full: bool | None = None) -> None:
        """Start a worker for every (live session here, target) that has none.

        Looks at the sessions that changed since the last scan, or at every live one
        (`full`; by default every `_FULL_SCAN_EVERY` scans). One batched store read per
        scan, only for those whose own webhook has no worker yet: an idle node reads
        nothing (it was one read of every live session per second, issue 14)."""
        if full is None:
            self._scans += 1
            # One node alone sets every target through its own routes, which mark the session
            # dirty: a full scan could find nothing new (it read every live session's target).
            full = self.store.shared and self._scans % _FULL_SCAN_EVERY == 0
        dirty, self._dirty = self._dirty, set()
        if full:
            live = [h for h in self._pool.handles() if h.core is not None]  # parked or elsewhere: not ours
        else:
            live = [h for sid in dirty if (h := self._pool.handle(sid)) is not None and h.core is not None]
        asking = [h.session_id for h in live if not self._running(h.session_id, "session")]
        try:
            own = await self.store.targets(asking) if asking else {}
        except BaseException:
            self._dirty |= dirty  # looked at again next time
            if full:
                self._scans = -1
            raise
        operator = self.operator_target
        for handle in live:
            for target in (operator, own.get(handle.session_id)):
                if target is None or self._running(handle.session_id, target.kind):
                    continue
                worker = asyncio.create_task(
                    self._run(handle, target), name=f"webhook-{target.kind}-{handle.session_id}"
                )
                worker.add_done_callback(functools.partial(self._worker_done, handle))
                self._workers[(handle.session_id, target.kind)] = worker

    async def _current(self, handle: SessionHandle, target: WebhookTarget) -> WebhookTarget | None:
        if target.kind == "operator":
            return self.operator_target
        return await self.store.target(handle.session_id)

    async def _run(self, handle: SessionHandle, target: WebhookTarget) -> None:
        sid = handle.session_id
        own = target.kind == "session"
        if own:
            handle.hooked = True
        try:
            cursor = await self.store.cursor(sid, target.kind) or 0
            while True:
                result = await self._events.wait_after(sid, cursor, _IDLE_WAIT, _BATCH)
                if result.reset:
                    first = result.events[0].id if result.events else await self._events.last_id(sid) + 1
                    lost = max(first - cursor - 1, 0)
                    self.events_lost_total += lost
                    log.warning("webhook for %s lagged past the event log's retention: %d lost", sid, lost)
                    cursor = first - 1
                for ev in result.events:
                    if await self._current(handle, target) != target:
                        return  # removed or replaced: the next scan starts the new one
                    if not await self._deliver(handle, target, ev) or await self._current(handle, target) != target:
                        # Removed or replaced while posting: the cursor is the new target's now
                        # (the route set it to where that one starts), not this one's to move.
                        return
                    cursor = ev.id
                    await self.store.set_cursor(sid, target.kind, cursor)
                    if ev.event == SESSION_CLOSED_EVENT:
                        return
                if not result.events and (handle.core is None or handle.closed):
                    return  # parked, ended or moved: revival or the next owner starts a worker
                if not result.events:
                    self.store.refresh(sid)  # quiet: see a change made elsewhere (another node)
                    if await self._current(handle, target) != target:
                        return  # removed or replaced while quiet: stop listening for it
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook worker for session %s stopped", sid)
        finally:
            if own:
                handle.hooked = False
                handle.last_used = self._settings.clock()  # listened until now, as a stream's close
                self.store.refresh(sid)  # no worker, no memory of its target

    async def _post(self, target: WebhookTarget, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the answer's status. The URL is the session owner's to choose, so
        the whole exchange is bounded by BRIDGE_WEBHOOK_TIMEOUT (httpx's timeout is per read:
        a byte every few seconds never trips it) and at most `_ANSWER_BYTES` of the answer's
        body are read (it carries nothing; an endless one was buffered whole). A body left
        unread closes the connection instead of returning it to the pool."""
        async with asyncio.timeout(self._settings.webhook_timeout):
            http = self._http if target.kind == "operator" else self._session_http
            async with http.stream("POST", target.url, content=body, headers=headers) as r:
                read = 0
                async for chunk in r.aiter_raw():
                    read += len(chunk)
                    if read > _ANSWER_BYTES:
                        break
                return r.status_code

    async def _deliver(self, handle: SessionHandle, target: WebhookTarget, ev: StoredEvent) -> bool:
        """POST one event until a 2xx, or dead-letter it after the last attempt; False if the
        target was removed or replaced meanwhile (the event is left for the new one)."""
        s = self._settings
        body = json.dumps(webhook_payload(handle, ev), ensure_ascii=False, separators=(",", ":")).encode()
        delivery = f"{handle.session_id}:{ev.id}"
        for attempt in range(1, s.webhook_max_attempts + 1):
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "openim-bridge-webhook",
                "X-Bridge-Event": ev.event,
                "X-Bridge-Delivery": delivery,
                SIGNATURE_HEADER: sign(target.secret, body),
            }
            try:
                status = await self._post(target, body, headers)
                if 200 <= status < 300:
                    self.delivered_total += 1
                    return True
                why = f"answered {status}"
            except TimeoutError:
                why = f"no whole answer within {s.webhook_timeout} s"
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.failed_attempts_total += 1
            if attempt == s.webhook_max_attempts:
                break
            delay = min(s.webhook_retry_cap, s.webhook_retry_base * 2 ** (attempt - 1))
            log.info("webhook delivery %s attempt %d %s; retrying", delivery, attempt, why)
            await asyncio.sleep(self._jitter(delay / 2, delay))
            if await self._current(handle, target) != target:
                return False
        self.dead_letters_total += 1
        log.warning("webhook delivery %s dead-lettered after %d attempts", delivery, s.webhook_max_attempts)
        return True
