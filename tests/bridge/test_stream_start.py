"""A fresh SSE stream's starting point is fixed before its response head goes out.

An EventSource fires `open` when the head arrives, and clients start sending from
there: whatever their sends cause must reach the stream. When the start was fixed
at the stream's first frame instead, a busy node could append events between the
head and that point, and the stream never showed them (bench/cost.py saw it as
"messages did not all arrive").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from bridge.app import create_app
from bridge.http_limits import HttpLimits
from bridge.server import bind, serve_app
from bridge.settings import BridgeSettings
from imserver.server import run_imserver
from imserver.settings import ImServerSettings
from tests.support.imadmin import ADMIN_SECRET, register_users, user_token
from tests.support.sseclient import SseReader

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def test_the_start_is_fixed_before_the_head_and_a_send_from_open_is_delivered(tmp_path: Path) -> None:
    heads: list[str] = []  # paths whose response head went out, in order
    starts: list[list[str]] = []  # for each last_id the stream asked: the heads sent by then

    def app_with_heads(app: Any) -> Any:
        async def asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
            async def noting(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    heads.append(scope["path"])
                await send(message)

            await app(scope, receive, noting if scope["type"] == "http" else send)

        return asgi

    ims = ImServerSettings(data_dir=tmp_path / "imserver", secret=ADMIN_SECRET)
    async with run_imserver(ims, api_port=0, ws_port=0) as srv, httpx.AsyncClient(timeout=30.0) as http:
        settings = BridgeSettings(upstream_api=srv.api_url, upstream_ws=srv.ws_url, data_dir=tmp_path / "bridge")
        settings = replace(settings, ephemeral=True)
        app = create_app(settings)
        sock = bind("127.0.0.1", 0)
        try:
            async with serve_app(app_with_heads(app), sock=sock, limits=HttpLimits.of(settings)) as running:
                events = app.state.services.events
                last_id = events.last_id

                async def noted_last_id(session_id: str) -> int:
                    starts.append(list(heads))
                    result: int = await last_id(session_id)
                    return result

                events.last_id = noted_last_id
                a_id, b_id = "start-a", "start-b"
                await register_users(http, srv.api_url, a_id, b_id)
                sessions = {}
                for uid in (a_id, b_id):
                    r = await http.post(
                        f"{running.url}/v1/login",
                        json={"userID": uid, "token": await user_token(http, srv.api_url, uid, 5), "platformID": 5},
                    )
                    assert r.status_code == 200, r.text
                    sessions[uid] = {"Authorization": f"Bearer {r.json()['data']['sessionToken']}"}
                heads.clear()
                starts.clear()
                stream = await SseReader(http, f"{running.url}/v1/events", sessions[a_id]).start()
                try:
                    assert starts and "/v1/events" not in starts[0], f"the head went out first: {starts}"
                    # A send made as soon as the head is in (EventSource's `open`) reaches the stream.
                    for path, body in (("create_text_message", {"text": "from open"}), ("send_message", None)):
                        body = body or {"message": r.json()["data"], "recvID": a_id}
                        r = await http.post(f"{running.url}/v1/message/{path}", json=body, headers=sessions[b_id])
                        assert r.status_code == 200, r.text
                    (got,) = await stream.wait_for("OnRecvNewMessage")
                finally:
                    await stream.close()
                assert "from open" in got.data
        finally:
            sock.close()
