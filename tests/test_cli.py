"""`openim-bridge serve` as a user runs it: a real process, embedded imserver, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.imadmin import register_users, user_token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_healthy(http: httpx.AsyncClient, url: str, proc: asyncio.subprocess.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"serve exited early with {proc.returncode}")
        try:
            if (await http.get(f"{url}/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} not healthy within {timeout}s")


async def test_serve_embedded_end_to_end_and_clean_shutdown(tmp_path: Path) -> None:
    port, api_port, ws_port = _free_port(), _free_port(), _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge.cli",
        "serve",
        "--port",
        str(port),
        "--imserver-api-port",
        str(api_port),
        "--imserver-ws-port",
        str(ws_port),
        "--data-dir",
        str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url, api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await _wait_healthy(http, url, proc, 30)
            assert (await http.get(f"{url}/readyz")).status_code == 200
            await register_users(http, api, "cli-alice")
            token = await user_token(http, api, "cli-alice", 5)
            r = await http.post(f"{url}/v1/login", json={"userID": "cli-alice", "token": token, "platformID": 5})
            assert r.status_code == 200, r.text
            auth = {"Authorization": f"Bearer {r.json()['data']['sessionToken']}"}
            r = await http.post(f"{url}/v1/user/get_self_user_info", headers=auth)
            assert r.json()["data"]["userID"] == "cli-alice"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 0, text
    assert f"listening on {url}" in text and f"embedded imserver: API {api}" in text
    assert token not in text
    assert (tmp_path / "bridge.db").exists() and (tmp_path / "imserver" / "imserver.db").exists()


async def test_openapi_command_and_bad_flags() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", "openapi", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and json.loads(out)["info"]["title"] == "openim-bridge"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge.cli",
        "serve",
        "--upstream-api",
        "http://x",
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and b"BRIDGE_UPSTREAM_WS" in err


@pytest.mark.parametrize(
    ("flag", "value", "named"),
    [
        ("--redis-url", "localhost:6379", "BRIDGE_REDIS_URL"),
        ("--database-url", "postgresql://bridge:s3cret@db/bridge", "BRIDGE_DATABASE_URL"),
        ("--advertise-url", "10.0.0.5:10008", "BRIDGE_ADVERTISE_URL"),
        ("--upstream-api", "openim:10002", "BRIDGE_UPSTREAM_API"),
    ],
)
async def test_bad_urls_are_named_not_a_traceback(flag: str, value: str, named: str) -> None:
    args = {"--upstream-api": "http://openim:10002", "--upstream-ws": "ws://openim:10001", flag: value}
    argv = [item for pair in args.items() for item in pair]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", "serve", *argv, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 2, text
    assert named in text and "Traceback" not in text
    assert "s3cret" not in text  # a password in a bad URL is not echoed
