"""Opening handshake: success and every error, as an HTTP JSON body or an isMsgResp text frame."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from core.protocol.constants import ReqIdentifier
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.gateway.handshake import SdkType, clean_path_redirect, error_body, parse_args
from imserver.settings import ImServerSettings
from tests.imserver_gateway.harness import Env, gateway_env, v_param, within


async def http_error(url: str) -> dict[str, Any]:
    """The gateway answered without upgrading: HTTP 200 with the JSON envelope."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, compression=None):
            pass
    response = info.value.response
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(response.body)
    assert list(body) == ["errCode", "errMsg", "errDlt"]
    return body


async def text_error(url: str) -> dict[str, Any]:
    """isMsgResp=true: upgraded, one text frame with the envelope, then closed."""
    async with connect(url, compression=None) as ws:
        frame = await within(ws.recv())
        assert isinstance(frame, str)
        with pytest.raises(ConnectionClosed):
            await within(ws.recv())
    body: dict[str, Any] = json.loads(frame)
    return body


def _case(env: Env, case: str) -> tuple[str, int, str]:
    """(url, errCode, errDlt) for one failing handshake."""
    good = env.tokens.mint("u1", 2)
    cases: dict[str, Callable[[], tuple[str, int, str]]] = {
        "no operationID": lambda: (env.query("u1", token=good, operationID=""), 1602, "operationID is empty"),
        "no token": lambda: (env.query("u1", token=""), 1602, "token is empty"),
        "no sendID": lambda: (env.query("", token=good), 1602, "sendID is empty"),
        "platform not int": lambda: (env.query("u1", token=good, platformID="web"), 1602, "platformID is not int"),
        "platform invalid": lambda: (env.query("u1", token=good, platformID="12"), 1602, "platformID is invalid"),
        "sdkType invalid": lambda: (env.query("u1", token=good, sdkType="rust"), 1602, "sdkType is invalid"),
        "isBackground missing": lambda: (
            env.query("u1", token=good, isBackground=""),
            500,
            'strconv.ParseBool: parsing "": invalid syntax',
        ),
        "malformed token": lambda: (env.query("u1", token="not.a.jwt"), 1503, ""),
        "expired token": lambda: (env.query("u1", token=env.tokens.mint("u1", 2, ttl=-10)), 1501, ""),
        "kicked token": lambda: (env.query("u1", token=_kicked(env)), 1506, ""),
        "other user's token": lambda: (
            env.query("u1", token=env.tokens.mint("u2", 2)),
            1502,
            "token uid u2 != userID u1",
        ),
        "other platform's token": lambda: (
            env.query("u1", token=env.tokens.mint("u1", 3)),
            1502,
            "token platform 3 != platformID 2",
        ),
        "v not base64": lambda: (env.url + "?v=%21%21", 1602, "data is not base64"),
        "v not json": lambda: (env.url + "?v=" + v_param({"platformID": "5"}), 1602, "data is not json"),
        # Issue 10: was HTTP 500 (RecursionError). Go's json.Unmarshal fails too (past 10000
        # levels; ours is bounded lower), which parseByJson answers with 1602.
        "v nested too deep": lambda: (env.url + "?v=" + _raw_v("[" * 3000 + "]" * 3000), 1602, "data is not json"),
        "v nested in a field": lambda: (env.url + "?v=" + _raw_v(_deep_info(good)), 1602, "data is not json"),
        "v platform beyond int64": lambda: (env.url + "?v=" + _raw_v('{"platformID": 1' + "0" * 30 + "}"), 1602, ""),
        "v invalid utf-8": lambda: (env.url + "?v=" + _raw_v(b'{"token": "\xff\xfe", "userID": 1}'), 1602, ""),
        "platform beyond int64": lambda: (
            env.query("u1", token=good, platformID="9" * 5000),
            1602,
            "platformID is not int",
        ),
    }
    return cases[case]()


def _raw_v(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _deep_info(token: str) -> str:
    info = {"userID": "u1", "token": token, "platformID": 2, "operationID": "op", "sendResponse": True}
    return json.dumps(info)[:-1] + ', "extra": ' + "[" * 2000 + "]" * 2000 + "}"  # the request line fits 8 KiB


def _kicked(env: Env) -> str:
    token = env.tokens.mint("u1", 2)
    env.tokens.kicked.add(token)
    return token


CASES = [
    "no operationID",
    "no token",
    "no sendID",
    "platform not int",
    "platform invalid",
    "sdkType invalid",
    "isBackground missing",
    "malformed token",
    "expired token",
    "kicked token",
    "other user's token",
    "other platform's token",
    "v not base64",
    "v not json",
    "v nested too deep",
    "v nested in a field",
    "v platform beyond int64",
    "v invalid utf-8",
    "platform beyond int64",
]


@pytest.mark.parametrize("case", CASES)
async def test_handshake_error_as_http_body(env: Env, case: str) -> None:
    url, code, detail = _case(env, case)
    body = await http_error(url)
    assert body["errCode"] == code
    assert body["errMsg"] == ErrCode(code).name
    if detail:
        assert body["errDlt"] == detail
    assert env.hub.connection_count == 0


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("v ")])
async def test_handshake_error_as_text_frame(env: Env, case: str) -> None:
    url, code, detail = _case(env, case)
    body = await text_error(url + "&isMsgResp=true")
    assert body["errCode"] == code
    assert body["errMsg"] == ErrCode(code).name
    if detail:
        assert body["errDlt"] == detail
    assert env.hub.connection_count == 0


async def test_v_param_error_as_text_frame(env: Env) -> None:
    info = {"userID": "u1", "token": "", "platformID": 2, "operationID": "op", "sendResponse": True}
    body = await text_error(env.url + "?v=" + v_param(info))
    assert (body["errCode"], body["errDlt"]) == (1602, "token is empty")


async def test_over_max_connections(tmp_path: Path) -> None:
    settings = ImServerSettings(data_dir=tmp_path, ws_max_conn_num=1)
    async with gateway_env(tmp_path, settings) as env, env.client("u1"):
        body = await http_error(env.query("u2"))
        assert (body["errCode"], body["errMsg"]) == (1601, "ConnOverMaxNumLimit")
        body = await text_error(env.query("u2", isMsgResp="true"))
        assert body["errCode"] == 1601


async def test_success_without_and_with_is_msg_resp(env: Env) -> None:
    async with env.client("u1") as plain:
        resp = await plain.request(ReqIdentifier.SET_BACKGROUND_STATUS)
        assert resp.err_code == 0
    async with connect(env.query("u1", isMsgResp="true", sdkType="js"), compression=None) as ws:
        first = await within(ws.recv())
        assert first == '{"errCode":0,"errMsg":"","errDlt":""}'
        assert env.hub.online_platforms("u1") == [2]


async def test_success_with_v_param(env: Env) -> None:
    info = {
        "token": env.tokens.mint("u1", 5),
        "userID": "u1",
        "platformID": 5,
        "operationID": "op",
        "sdkType": "js",
        "sendResponse": True,
        "compression": "gzip",
    }
    async with connect(env.url + "?v=" + v_param(info), compression=None) as ws:
        assert json.loads(await within(ws.recv()))["errCode"] == 0
        (conn,) = env.hub.connections("u1")
        assert (conn.platform_id, conn.codec.sdk_type, conn.codec.compress) == (5, SdkType.JS, True)


def test_parse_args_reads_query_and_header() -> None:
    args = parse_args(
        "/any/path?sendID=u&token=t&platformID=%2B5&operationID=o&isBackground=T&isMsgResp=1",
        {"compression": "gzip"},
    )
    assert args.user_id == "u" and args.platform_id == 5 and args.background and args.send_response
    assert args.compression and args.sdk_type is SdkType.GO
    with pytest.raises(ImError) as info:
        parse_args("/?sendID=u&token=t&platformID=5&operationID=o&isBackground=no", {})
    assert info.value.code == ErrCode.ServerInternalError
    with pytest.raises(ImError) as info:
        parse_args("/?sendID=u&token=t&platformID=5&operationID=o&isBackground=1&isMsgResp=yes", {})
    assert info.value.detail == "isMsgResp is not bool"


def test_error_body_bytes() -> None:
    assert error_body(None) == b'{"errCode":0,"errMsg":"","errDlt":""}'
    assert error_body(ImError(ErrCode.ConnArgsErr, "token is empty")) == (
        b'{"errCode":1602,"errMsg":"ConnArgsErr","errDlt":"token is empty"}'
    )


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/?sendID=a", None),
        ("/msg_gateway?sendID=a", None),
        ("/msg_gateway/?sendID=a", None),
        ("//?sendID=a", "/?sendID=a"),
        ("/a//b", "/a/b"),
        ("/a/../b/", "/b/"),
        ("/a/./b?x=1", "/a/b?x=1"),
    ],
)
def test_unclean_paths_are_redirected_as_go_servemux_does(target: str, location: str | None) -> None:
    """The gateway runs on Go's default ServeMux (ws_server.go), whose cleanPath answers 301."""
    assert clean_path_redirect(target) == location
