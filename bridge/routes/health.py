"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from bridge.errors import BridgeError
from bridge.metrics import metrics_text, registry_for
from bridge.openapi_spec import problem_responses
from bridge.routes.deps import Services, services

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="healthz", responses=problem_responses(400))  # a malformed operationID header
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses=problem_responses(400))
async def readyz(svc: Services = Depends(services)) -> Any:
    """Ready to take sessions: not draining, the session stores (Redis in
    cluster mode) and the upstream OpenIM API answer."""
    pool = svc.pool
    status = "ok"
    if pool.drain.draining:
        status = "draining"
    elif not await _stores_ready(svc):
        status = "session store unreachable"
    elif not await svc.upstream.ready():
        status = "upstream unreachable"
    body = {"status": status, "node": pool.node_id, "liveCores": pool.live_cores, "sessions": pool.sessions}
    return JSONResponse(body, status_code=200 if status == "ok" else 503)


async def _stores_ready(svc: Services) -> bool:
    """The session directory answers (a Redis round trip in cluster mode)."""
    try:
        await svc.pool.directory.live_count()
    except BridgeError:
        return False
    return True


@router.get("/metrics", operation_id="metrics", response_class=Response, responses=problem_responses(400))
async def metrics(request: Request, svc: Services = Depends(services)) -> Response:
    """Prometheus metrics of this node (cores, sessions, calls in flight, leases, forwarding, replays)."""
    if svc.metrics is None:
        svc.metrics = registry_for(svc, request.app.state.forward_stats)
    return Response(metrics_text(svc.metrics), media_type=CONTENT_TYPE_LATEST)
