"""`openim-bridge serve --oimws-port`: a real process answering open-im-sdk on its own port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from tests.oimws.client import OimwsClient
from tests.support.imadmin import ADMIN_SECRET, register_users, user_token
from tests.support.wait import wait_healthy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_with_oimws_port(tmp_path: Path) -> None:
    port, oimws_port, api_port, ws_port = (_free_port() for _ in range(4))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge.cli",
        "serve",
        *("--port", str(port), "--oimws-port", str(oimws_port)),
        *("--imserver-api-port", str(api_port), "--imserver-ws-port", str(ws_port)),
        *("--data-dir", str(tmp_path), "--imserver-secret", ADMIN_SECRET),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    api = f"http://127.0.0.1:{api_port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await wait_healthy(http, f"http://127.0.0.1:{port}", proc, 30)
            await register_users(http, api, "cli-oim")
            token = await user_token(http, api, "cli-oim", 5)
        c = await OimwsClient.open(f"ws://127.0.0.1:{oimws_port}", "cli-oim")
        try:
            assert (await c.login(token)).err_code == 0
            assert await c.call("GetLoginUserID") == "cli-oim"
        finally:
            await c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 0, text
    assert f"ws://127.0.0.1:{port}/ws  and ws://127.0.0.1:{oimws_port}" in text
    assert token not in text
