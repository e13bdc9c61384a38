"""Bare peer apps for bench/cost.py, served exactly as the bridge is (bridge.server.serve_app).

`python bench/peers.py {fastapi|starlette|sse} PORT` serves one of:

- fastapi:   `POST /hello` -> `{"operationID": ..., "data": []}` from an async FastAPI endpoint;
- starlette: the same answer from a plain Starlette route;
- sse:       sse-starlette: `GET /events` streams every item `POST /publish` appends to a
             shared list (one asyncio.Condition wakes every stream), `id:`/`event:`/`data:`
             like the bridge's stream; the floor the bridge's SSE fan-out is measured against.

Same uvicorn config as the bridge (httptools with the bridge's HTTP limits, same event loop
policy as `openim-bridge serve`), so the ratios compare application code, not servers.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.server import run_loop, serve_app


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.post("/hello")
    async def hello() -> dict[str, Any]:
        return {"operationID": "bench", "data": []}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def starlette_app() -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"operationID": "bench", "data": []})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/hello", hello, methods=["POST"]), Route("/healthz", health)])


def sse_app() -> Starlette:
    items: list[bytes] = []
    changed = asyncio.Condition()

    async def publish(request: Request) -> Response:
        body = await request.body()
        async with changed:
            items.append(body)
            changed.notify_all()
        return JSONResponse({"id": len(items)})

    async def events(request: Request) -> EventSourceResponse:
        async def stream() -> AsyncIterator[ServerSentEvent]:
            cursor = len(items)
            while True:
                async with changed:
                    await changed.wait_for(lambda c=cursor: len(items) > c)  # type: ignore[misc]
                for i in range(cursor, len(items)):
                    yield ServerSentEvent(data=items[i].decode(), id=str(i + 1), event="OnRecvNewMessage")
                cursor = len(items)

        return EventSourceResponse(stream(), ping=0)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/publish", publish, methods=["POST"]), Route("/events", events), Route("/healthz", health)]
    )


async def _serve(kind: str, port: int) -> None:
    app = {"fastapi": fastapi_app, "starlette": starlette_app, "sse": sse_app}[kind]()
    async with serve_app(app, "127.0.0.1", port):
        await asyncio.Event().wait()


if __name__ == "__main__":
    run_loop(_serve(sys.argv[1], int(sys.argv[2])))
