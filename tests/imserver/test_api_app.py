"""imserver.app.ImApi: exact-path dispatch, and what starlette's stack sent (issue 14)."""

from __future__ import annotations

import gzip
import random
from typing import Any

import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from imserver import app as app_module
from imserver.app import ImApi


def test_every_openim_route_is_one_exact_path_look_up() -> None:
    # No OpenIM route is left to a router that matches paths one by one.
    for router in app_module._ROUTERS:
        assert all(path.startswith(router.prefix) for path in router.exact)
        assert all("{" in route.path for route in router.routes)  # only path-parameter routes
    assert sum(len(r.exact) for r in app_module._ROUTERS) > 100


async def _send(app: Any, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers, "query_string": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("accept", [b"gzip, deflate", b"identity", None])
@pytest.mark.parametrize("size", [1, 300, 5000, 70_000])
async def test_responses_are_what_starlette_gzip_sent(accept: bytes | None, size: int) -> None:
    filler = bytes(random.Random(size).choices(b"abcdefgh", k=size))
    body = b'{"errCode":0,"errMsg":"","errDlt":"","data":{"x":"' + filler + b'"}}'

    async def endpoint(_ctx: Any, _scope: Scope, _receive: Receive) -> bytes:
        return body

    async def starlette_app(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(body, status_code=200, media_type="application/json")(scope, receive, send)

    headers = [] if accept is None else [(b"accept-encoding", accept)]
    ours = await _send(ImApi(None, {"/x": endpoint}, starlette_app), headers)  # type: ignore[arg-type]
    theirs = await _send(GZipMiddleware(starlette_app, minimum_size=1), headers)
    assert [m["type"] for m in ours] == ["http.response.start", "http.response.body"]
    assert ours[0]["status"] == theirs[0]["status"] == 200
    ours_headers, their_headers = list(ours[0]["headers"]), list(theirs[0]["headers"])
    assert [k for k, _ in ours_headers] == [k for k, _ in their_headers]  # the same names, in order
    assert [h for h in ours_headers if h[0] != b"content-length"] == [
        h for h in their_headers if h[0] != b"content-length"
    ]
    sent, their_body = ours[1]["body"], b"".join(m.get("body", b"") for m in theirs[1:])
    assert dict(ours_headers)[b"content-length"] == str(len(sent)).encode()
    if accept == b"gzip, deflate":  # the same document, about as small as starlette's level 9
        assert gzip.decompress(sent) == gzip.decompress(their_body) == body
        assert len(sent) <= len(their_body) * 1.05 + 8
    else:
        assert sent == their_body == body
