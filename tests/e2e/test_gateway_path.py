"""The message gateway behind a path-prefixed proxy (wss://host/msg_gateway), issue 13.

The common deployment puts OpenIM's gateway under a path of the web host; nginx's
`location /msg_gateway { proxy_pass http://gateway/; }` maps `/msg_gateway?q` to
`/?q` and `/msg_gateway/?q` to `//?q`, which Go's ServeMux (and so the imserver)
answers with a 301. The SDK dials `<address>?<query>` (long_conn_mgr.go); core
must do the same, or login fails behind such a proxy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from core.transport.gateway import dial_url
from imserver.server import run_imserver
from imserver.settings import ImServerSettings
from tests.support.clock import MovableClock
from tests.support.cluster import ChildProcess, stable_port
from tests.support.imadmin import ADMIN_SECRET, register_users, user_token
from tests.support.stack import run_bridge
from tests.support.wait import eventually, until

NGINX = "/usr/sbin/nginx"

_CONF = """
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /proxy-healthz {{ return 200 "ok"; }}
    location /msg_gateway {{
      proxy_pass http://127.0.0.1:{ws_port}/;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 60s;
    }}
  }}
}}
"""


def _skip_or_fail(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def test_dial_url_appends_the_query_to_the_address_as_given() -> None:
    q = {"sendID": "u1", "token": "t"}
    assert dial_url("ws://127.0.0.1:10001", q) == "ws://127.0.0.1:10001?sendID=u1&token=t"
    assert dial_url("wss://im.example/msg_gateway", q) == "wss://im.example/msg_gateway?sendID=u1&token=t"
    assert dial_url("wss://im.example/msg_gateway/", q) == "wss://im.example/msg_gateway/?sendID=u1&token=t"
    assert dial_url("wss://im.example/gw?region=eu", q) == "wss://im.example/gw?region=eu&sendID=u1&token=t"


@contextlib.asynccontextmanager
async def _nginx(tmp: Path, ws_port: int) -> AsyncIterator[int]:
    binary = NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")
    if binary is None:
        _skip_or_fail("nginx not found: scripts/install-interop.sh installs nginx-light when run as root")
    port = stable_port()
    (tmp / "tmp").mkdir(parents=True)
    conf = tmp / "nginx.conf"
    conf.write_text(_CONF.format(dir=tmp, port=port, ws_port=ws_port))
    process = ChildProcess("nginx", tmp / "nginx.out")
    await process._spawn(
        [binary, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf), "-g", "daemon off;"],
        dict(os.environ),
    )
    try:
        async with httpx.AsyncClient() as http:

            async def up() -> bool:
                if not process.running:
                    raise AssertionError(f"nginx exited:\n{process.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get(f"http://127.0.0.1:{port}/proxy-healthz", timeout=2.0)).status_code == 200
                return False

            await until(up, "nginx to answer /proxy-healthz", timeout=10.0)
        yield port
    finally:
        await process.shutdown(10.0)


async def test_login_and_messages_through_a_path_prefixed_gateway(tmp_path: Path) -> None:
    ims = ImServerSettings(data_dir=tmp_path / "im", secret=ADMIN_SECRET, clock=MovableClock())
    async with (
        run_imserver(ims, api_port=0, ws_port=0) as srv,
        _nginx(tmp_path / "nginx", int(srv.ws_url.rsplit(":", 1)[1])) as port,
        httpx.AsyncClient(timeout=30.0) as http,
    ):
        gateway = f"ws://127.0.0.1:{port}/msg_gateway"
        a_id, b_id = "pathA", "pathB"
        await register_users(http, srv.api_url, a_id, b_id)
        token = await user_token(http, srv.api_url, a_id, 5)

        # What core used to dial: the proxy turns it into `//?`, answered with a 301.
        old = await http.get(f"http://127.0.0.1:{port}/msg_gateway/?sendID={a_id}&platformID=5&sdkType=js")
        assert old.status_code == 301 and old.headers["location"].startswith("/?sendID="), old

        async with run_bridge(srv.api_url, gateway, tmp_path / "bridge", MovableClock(wall=False)) as bridge:
            sessions = {}
            for uid in (a_id, b_id):
                tok = token if uid == a_id else await user_token(http, srv.api_url, uid, 5)
                r = await http.post(f"{bridge.url}/v1/login", json={"userID": uid, "token": tok, "platformID": 5})
                assert r.status_code == 200, r.text
                sessions[uid] = {"Authorization": f"Bearer {r.json()['data']['sessionToken']}"}
            msg = (
                await http.post(
                    f"{bridge.url}/v1/message/create_text_message", json={"text": "via proxy"}, headers=sessions[a_id]
                )
            ).json()["data"]
            sent = await http.post(
                f"{bridge.url}/v1/message/send_message",
                json={"message": msg, "recvID": b_id},
                headers=sessions[a_id],
            )
            assert sent.status_code == 200, sent.text
            assert sent.json()["data"]["seq"] == 1

            async def b_has_it() -> bool:
                r = await http.post(f"{bridge.url}/v1/conversation/get_total_unread_msg_count", headers=sessions[b_id])
                return bool(r.json()["data"] == 1)

            await eventually(b_has_it, what="b's unread count through the proxied gateway")
