"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from bridge.routes.deps import Services, services

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz")
async def readyz(svc: Services = Depends(services)) -> Any:
    """Ready to take sessions: the upstream OpenIM API answers."""
    pool = svc.pool
    ok = await pool.upstream_ready()
    body = {
        "status": "ok" if ok else "upstream unreachable",
        "liveCores": pool.live_cores,
        "sessions": pool.sessions,
    }
    return JSONResponse(body, status_code=200 if ok else 503)
