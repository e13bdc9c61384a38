"""`openim-bridge serve` as a user runs it: a real process, embedded imserver, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import stat
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.app import VERSION
from tests.support.imadmin import admin_token, envelope, register_users, user_token


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


_SECRET_LINE = re.compile(r"admin secret \((configured|kept in \S+)\): (\S+)")


@dataclass
class Serve:
    """A running `openim-bridge serve` with an embedded imserver on free ports."""

    proc: asyncio.subprocess.Process
    url: str
    api: str
    secret: str
    secret_origin: str
    banner: str

    async def stop(self) -> str:
        """SIGTERM; the messages of all of stderr (the banner included) once it exited 0.

        Every line must be one JSON object (the default --log-format): no plain text mixed in."""
        self.proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(self.proc.communicate(), 30)
        text = self.banner + "".join(_message(line) for line in err.decode().splitlines(keepends=True))
        assert self.proc.returncode == 0, text
        return text


def _message(line: str) -> str:
    """The `msg` of one JSON log line (and its other fields), failing on a line that is not JSON."""
    try:
        record = json.loads(line)
    except ValueError:
        raise AssertionError(f"a log line that is not JSON: {line!r}") from None
    assert isinstance(record, dict) and {"ts", "level", "logger", "msg"} <= set(record), line
    return str(record["msg"]) + "".join(f" {k}={v}" for k, v in record.items() if k not in ("ts", "msg")) + "\n"


async def _read_banner(proc: asyncio.subprocess.Process, timeout: float) -> str:
    """stderr up to the banner's last line (`then: curl ...`)."""
    assert proc.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while not (lines and lines[-1].startswith("then: ")):
            line = await proc.stderr.readline()
            if not line:
                raise AssertionError(f"serve exited before its banner:\n{''.join(lines)}")
            lines.append(_message(line.decode()))
    return "".join(lines)


@contextlib.asynccontextmanager
async def _serve(data_dir: Path, env: dict[str, str] | None = None) -> AsyncIterator[Serve]:
    port, api_port, ws_port = _free_port(), _free_port(), _free_port()
    # Without the developer's BRIDGE_* (a BRIDGE_IMSERVER_SECRET would change what is tested).
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bridge.cli", "serve", "--port", str(port)),
        *("--imserver-api-port", str(api_port), "--imserver-ws-port", str(ws_port)),
        *("--data-dir", str(data_dir)),
        stderr=asyncio.subprocess.PIPE,
        env={**base, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        banner = await _read_banner(proc, 30)
        match = _SECRET_LINE.search(banner)
        assert match, banner
        serve = Serve(proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}", match[2], match[1], banner)
        async with httpx.AsyncClient(timeout=10) as http:
            await _wait_healthy(http, serve.url, proc, 30)
        yield serve
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_embedded_end_to_end_and_clean_shutdown(tmp_path: Path) -> None:
    async with _serve(tmp_path) as serve, httpx.AsyncClient(timeout=10) as http:
        url, api = serve.url, serve.api
        # ./run prints the generated secret, and it is the one that works
        assert serve.secret_origin == f"kept in {tmp_path / 'imserver' / 'secret'}"
        assert serve.secret != "openIM123" and f'"secret":"{serve.secret}"' in serve.banner
        assert (await http.get(f"{url}/readyz")).status_code == 200
        await register_users(http, api, "cli-alice", secret=serve.secret)
        token = await user_token(http, api, "cli-alice", 5, secret=serve.secret)
        r = await http.post(f"{url}/v1/login", json={"userID": "cli-alice", "token": token, "platformID": 5})
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['data']['sessionToken']}"}
        r = await http.post(f"{url}/v1/user/get_self_user_info", headers=auth)
        assert r.json()["data"]["userID"] == "cli-alice"
        text = await serve.stop()
    assert f"listening on {url}" in text and f"embedded imserver: API {api}" in text
    assert token not in text
    assert (tmp_path / "bridge.db").exists() and (tmp_path / "imserver" / "imserver.db").exists()
    secret_file = tmp_path / "imserver" / "secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret_file.read_text().strip() == serve.secret


async def test_serve_keeps_its_secret_and_takes_a_configured_one(tmp_path: Path) -> None:
    async with _serve(tmp_path) as first:
        await first.stop()
    async with _serve(tmp_path) as second, httpx.AsyncClient(timeout=10) as http:
        assert second.secret == first.secret  # same data dir, same secret
        for wrong in ("openIM123", ""):
            r = await envelope(http, second.api, "/auth/get_admin_token", {"secret": wrong, "userID": "imAdmin"}, None)
            assert r["errCode"] == 1002, r
        assert await admin_token(http, second.api, secret=second.secret)
        await second.stop()
    async with _serve(tmp_path, {"BRIDGE_IMSERVER_SECRET": "openIM123"}) as configured:
        assert (configured.secret, configured.secret_origin) == ("openIM123", "configured")
        async with httpx.AsyncClient(timeout=10) as http:
            assert await admin_token(http, configured.api, secret="openIM123")  # only because it was set
            r = await envelope(
                http, configured.api, "/auth/get_admin_token", {"secret": first.secret, "userID": "imAdmin"}, None
            )
            assert r["errCode"] == 1002
        await configured.stop()
    assert (tmp_path / "imserver" / "secret").read_text().strip() == first.secret  # left alone


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


async def test_version_flag() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and out.decode().strip() == f"openim-bridge {VERSION}"


async def test_a_port_in_use_is_named_with_its_flag(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = int(taken.getsockname()[1])
        argv = ["--port", str(port), "--upstream-api", "http://127.0.0.1:9", "--upstream-ws", "ws://127.0.0.1:9"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bridge.cli", "serve", "--data-dir", str(tmp_path), *argv),
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = "".join(_message(line) for line in err.decode().splitlines(keepends=True))
    assert proc.returncode == 1, text
    assert f"bridge (--port {port}): port {port} on 127.0.0.1 is already in use" in text
