"""`create_app(settings)`: the bridge's FastAPI application and its lifespan.

Long-lived resources (the shared httpx client, the SQL engine for checkpoints,
the session directory, the event log, the pool) are created in the lifespan
and passed down; nothing lives in module globals. The app never starts an
imserver itself: the CLI (the composition root) does that for embedded mode
and hands the upstream addresses in through the settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from bridge.access_log import AccessLogMiddleware
from bridge.calls import CallService
from bridge.core_factory import UpstreamCoreFactory
from bridge.cors import install_cors
from bridge.docs import install_docs
from bridge.errors import install_error_handlers
from bridge.forward import ForwardingMiddleware, ForwardStats
from bridge.gc_policy import GcPolicy
from bridge.idempotency import IdempotencyCache
from bridge.leases import SessionLeases
from bridge.logins import Logins
from bridge.middleware import BodyLimitMiddleware, JsonBodyMiddleware, OperationIDMiddleware
from bridge.oimws import install_oimws
from bridge.openapi_spec import install_openapi
from bridge.pool import SessionPool
from bridge.routes import events, health, session, webhook
from bridge.routes.deps import Services
from bridge.routes.dispatch import FunctionDispatch
from bridge.routes.functions import function_router
from bridge.routes.upload import UPLOAD_PATHS, upload_router
from bridge.settings import BridgeSettings
from bridge.stores import Stores, open_stores
from bridge.upstream import Upstream
from bridge.webhook_store import MemoryWebhookStore, RedisWebhookStore, WebhookStore
from bridge.webhooks import WebhookDispatcher, webhook_clients
from core.checkpoint import CheckpointStore, make_engine, migrate
from core.checkpoint_flusher import CheckpointFlusher
from core.registry import all_functions
from core.transport.http1_pool import Http1Pool
from core.transport.keepalive import Keepalive

__all__ = ["create_app", "drain"]

VERSION = "0.1.0"


def create_app(settings: BridgeSettings) -> FastAPI:
    settings.validate()
    if settings.embedded:
        raise ValueError("create_app needs upstream_api/upstream_ws; `openim-bridge serve` starts imserver for you")
    assert settings.upstream_api is not None and settings.upstream_ws is not None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with (
            _engine(settings) as engine,
            httpx.AsyncClient(timeout=httpx.Timeout(10.0), limits=limits) as http,
            webhook_clients(settings) as hooks_http,  # not `http`: receivers are anyone's to choose
            _api_pool(settings) as api_pool,
            open_stores(settings) as stores,  # SQL, Redis with BRIDGE_REDIS_URL, or memory (--ephemeral)
        ):
            api, ws = settings.upstream_api or "", settings.upstream_ws or ""
            checkpoints = CheckpointStore(engine)
            flusher = CheckpointFlusher(checkpoints)  # every live core's periodic save, one task
            keepalive = Keepalive()  # every live core's gateway pings, one task
            leases = SessionLeases(
                stores.directory,
                settings.node_id,
                lease_seconds=settings.lease_seconds,
                advertise_url=settings.advertise_url or "",
            )
            gc_policy = None if settings.gc_policy == "off" else GcPolicy(freeze=settings.gc_policy == "freeze")
            pool = SessionPool(
                settings,
                directory=stores.directory,
                events=stores.events,
                leases=leases,
                core_factory=UpstreamCoreFactory(
                    api, ws, http, checkpoints, settings.core_inbox_size, flusher, keepalive, api_pool
                ),
                gc_policy=gc_policy,
            )
            idempotency = IdempotencyCache(
                settings.idempotency_window,
                clock=settings.clock,
                redis=stores.redis,  # cluster mode: outcomes shared by every node
                prefix=settings.redis_prefix,
                store=stores.outcomes,  # a node without Redis: outcomes outlive a restart
            )
            upstream = Upstream(http, api, api_pool)
            calls = CallService(pool, idempotency)
            webhooks = WebhookDispatcher(settings, pool, stores.events, _webhook_store(settings, stores), *hooks_http)
            app.state.services = Services(
                settings,
                pool,
                stores.events,
                idempotency,
                Logins(settings, pool, stores.directory, upstream),
                calls,
                upstream,
                http,
                checkpoints,
            )
            app.state.webhooks = app.state.services.webhooks = webhooks
            pool.start()
            flusher.start()
            keepalive.start()
            webhooks.start()
            if gc_policy is not None:
                gc_policy.install()  # after start-up: what is alive now is frozen
            try:
                yield
            finally:
                if gc_policy is not None:
                    gc_policy.uninstall()
                await webhooks.aclose()
                await calls.aclose()
                await pool.aclose()
                await flusher.aclose()
                await keepalive.aclose()

    app = FastAPI(
        title="openim-bridge",
        version=VERSION,
        summary="REST + Server-Sent Events for OpenIM: every SDK function one endpoint, every listener one event.",
        lifespan=lifespan,
        docs_url=None,  # served from package assets by install_docs, not a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app)  # security, headers, one Problem, no 422 (bridge/openapi_spec.py)
    install_docs(app)  # /docs and /redoc work offline
    app.include_router(health.router)
    app.include_router(session.router)
    app.include_router(events.router)
    app.include_router(webhook.router)
    app.include_router(function_router(all_functions()))
    for fn in all_functions().values():
        if fn.multipart:
            app.include_router(upload_router(fn))
    install_oimws(app)  # /ws: the oimws-compatible WebSocket over the same registry and pool
    # Outermost last: operationID is set before the body limit may answer, and
    # forwarding (innermost) replays a body the limit has already passed.
    app.state.forward_stats = ForwardStats()
    # Innermost: function calls skip the router (uploads are multipart: their own route).
    app.add_middleware(FunctionDispatch, functions={n: f for n, f in all_functions().items() if not f.multipart})
    app.add_middleware(
        ForwardingMiddleware,
        timeout=settings.login_timeout + 15.0,
        stats=app.state.forward_stats,
        stream_paths=UPLOAD_PATHS,
    )
    app.add_middleware(JsonBodyMiddleware, max_depth=settings.json_max_depth)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        path_limits=dict.fromkeys(UPLOAD_PATHS, settings.upload_max_bytes),
    )
    app.add_middleware(AccessLogMiddleware)  # inside operationID: every line carries it
    app.add_middleware(OperationIDMiddleware)
    install_cors(app, settings.cors_origins)  # outermost: preflights answered before any check
    return app


def _webhook_store(settings: BridgeSettings, stores: Stores) -> WebhookStore:
    """Targets and cursors beside the event logs: in the SQL database, shared in Redis, else in this process."""
    if stores.webhooks is not None:
        return stores.webhooks
    if stores.redis is None:
        return MemoryWebhookStore()
    return RedisWebhookStore(stores.redis, settings.redis_prefix, settings.event_max_age)


@contextlib.asynccontextmanager
async def _api_pool(settings: BridgeSettings) -> AsyncIterator[Http1Pool | None]:
    """The lean pool for a plain-http upstream API (same limits as the httpx client above)."""
    if settings.upstream_client != "lean":
        yield None
        return
    pool = Http1Pool()
    try:
        yield pool
    finally:
        await pool.aclose()


@contextlib.asynccontextmanager
async def _engine(settings: BridgeSettings) -> AsyncIterator[AsyncEngine]:
    """The checkpoint database, migrated to the current schema; disposed however the app ends."""
    engine = make_engine(settings.resolved_database_url())
    try:
        await migrate(engine)  # Alembic, under an advisory lock on PostgreSQL
        yield engine
    finally:
        await engine.dispose()


async def drain(app: FastAPI) -> None:
    """Graceful stop before the server closes (SIGTERM): see SessionPool.drain."""
    services: Services | None = getattr(app.state, "services", None)
    if services is not None:
        await services.pool.drain_and_park(services.settings.drain_seconds)
