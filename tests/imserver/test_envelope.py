"""Transport conventions of the OpenIM HTTP API (openim-v3.md 1.1, 1.2, 0.2)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from imserver.server import run_imserver
from imserver.settings import ImServerSettings
from tests.imserver.conftest import ImServer
from tests.support.imadmin import ADMIN_SECRET, admin_token


async def _post(im: ImServer, route: str, content: bytes, **headers: str) -> dict[str, object]:
    r = await im.http.post(f"{im.api_url}{route}", content=content, headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, object] = r.json()
    return body


async def test_success_envelope_has_data_and_every_field(im: ImServer) -> None:
    [u] = await im.users(1)
    r = await im.http.post(
        f"{im.api_url}/user/get_users_info",
        json={"userIDs": [u, "nobody-" + u]},
        headers={"operationID": "op1", "token": im.admin},
    )
    body = r.json()
    assert list(body) == ["errCode", "errMsg", "errDlt", "data"]
    assert body["errCode"] == 0 and body["errMsg"] == "" and body["errDlt"] == ""
    [info] = body["data"]["usersInfo"]
    assert list(info) == ["userID", "nickname", "faceURL", "ex", "createTime", "appMangerLevel", "globalRecvMsgOpt"]
    assert info["userID"] == u and info["nickname"] == "nick-" + u and isinstance(info["createTime"], int)


async def test_empty_response_message_omits_data(im: ImServer) -> None:
    [u] = await im.users(1)
    body = await _post(
        im,
        "/user/update_user_info_ex",
        b'{"userInfo": {"userID": "%s", "ex": "x"}}' % u.encode(),
        operationID="op",
        token=im.admin,
    )
    assert body == {"errCode": 0, "errMsg": "", "errDlt": ""}


async def test_missing_operation_id_is_args_error(im: ImServer) -> None:
    body = await _post(im, "/user/get_users_info", b'{"userIDs": []}', token=im.admin)
    assert body["errCode"] == 1001
    assert body["errMsg"] == "ArgsError"
    assert "header must have operationID" in str(body["errDlt"])


async def test_missing_token_is_args_error_except_whitelist(im: ImServer) -> None:
    body = await _post(im, "/user/get_users_info", b'{"userIDs": []}', operationID="op")
    assert (body["errCode"], body["errMsg"]) == (1001, "ArgsError")
    assert "header must have token" in str(body["errDlt"])
    # whitelisted: no token needed
    login = json.dumps({"secret": ADMIN_SECRET, "userID": "imAdmin"}).encode()
    body = await _post(im, "/auth/get_admin_token", login, operationID="op")
    assert body["errCode"] == 0


async def test_invalid_json_and_wrong_types_name_the_field(im: ImServer) -> None:
    hdrs = {"operationID": "op", "token": im.admin}
    body = await _post(im, "/user/get_users_info", b"{not json", **hdrs)
    assert body["errCode"] == 1001 and "invalid JSON" in str(body["errDlt"])
    body = await _post(im, "/user/get_users_info", b"", **hdrs)
    assert body["errCode"] == 1001
    body = await _post(im, "/user/get_users_info", b'{"userIDs": "u1"}', **hdrs)
    assert body["errCode"] == 1001 and "userIDs" in str(body["errDlt"])
    body = await _post(im, "/user/get_all_users_uid", b'{"pagination": {"pageNumber": "1", "showNumber": 10}}', **hdrs)
    assert body["errCode"] == 1001 and "pagination.pageNumber" in str(body["errDlt"])
    body = await _post(im, "/user/get_all_users_uid", b'{"pagination": {"pageNumber": 1.5, "showNumber": 10}}', **hdrs)
    assert body["errCode"] == 1001 and "pagination.pageNumber" in str(body["errDlt"])
    body = await _post(
        im, "/user/get_all_users_uid", b'{"pagination": {"pageNumber": 4294967296, "showNumber": 1}}', **hdrs
    )
    assert body["errCode"] == 1001 and "pageNumber" in str(body["errDlt"])
    body = await _post(im, "/user/get_users_info", b"[1, 2]", **hdrs)
    assert body["errCode"] == 1001


async def test_check_failures_are_args_errors(im: ImServer) -> None:
    hdrs = {"operationID": "op", "token": im.admin}
    # JSON null body decodes to an empty request, whose Check() fails
    body = await _post(im, "/user/get_users_info", b"null", **hdrs)
    assert body["errCode"] == 1001 and "UserIDs is empty" in str(body["errDlt"])
    body = await _post(im, "/user/get_all_users_uid", b'{"pagination": {"pageNumber": 0, "showNumber": 10}}', **hdrs)
    assert body["errCode"] == 1001 and "pageNumber is invalid" in str(body["errDlt"])
    body = await _post(im, "/user/get_all_users_uid", b"{}", **hdrs)
    assert body["errCode"] == 1001 and "pagination is empty" in str(body["errDlt"])


async def test_unknown_keys_ignored_and_keys_case_insensitive(im: ImServer) -> None:
    [u] = await im.users(1)
    data = await im.call("/user/get_users_info", {"USERIDS": [u], "whatever": {"x": 1}}, im.admin)
    assert [x["userID"] for x in data["usersInfo"]] == [u]
    # an exact match wins over a case-insensitive one
    data = await im.call("/user/get_users_info", {"userids": ["nobody"], "userIDs": [u]}, im.admin)
    assert [x["userID"] for x in data["usersInfo"]] == [u]
    # null leaves the zero value
    data = await im.call("/user/get_all_users_uid", {"pagination": {"pageNumber": 1, "showNumber": None}}, im.admin)
    assert data["userIDs"] is None and data["total"] >= 1


async def test_deeply_nested_body_is_args_error(im: ImServer) -> None:
    # pydantic-core's JSON parser bounds nesting itself; what matters is 1001, never a 500.
    hdrs = {"operationID": "op", "token": im.admin}
    for body in (b"[" * 30000 + b"]" * 30000, b'{"userIDs": ["u"], "x": ' + b"[" * 30000 + b"]" * 30000 + b"}"):
        assert (await _post(im, "/user/get_users_info", body, **hdrs))["errCode"] == 1001


async def test_oversized_body_is_args_error(im: ImServer) -> None:
    big = b'{"userIDs": ["' + b"x" * (im.settings.max_body_bytes + 10) + b'"]}'
    body = await _post(im, "/user/get_users_info", big, operationID="op", token=im.admin)
    assert body["errCode"] == 1001 and "larger than" in str(body["errDlt"])

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(im.settings.max_body_bytes // 1024 + 2):
            yield b" " * 1024

    r = await im.http.post(
        f"{im.api_url}/user/get_users_info", content=chunks(), headers={"operationID": "op", "token": im.admin}
    )
    assert r.json()["errCode"] == 1001


async def test_unknown_route_and_method_are_404(im: ImServer) -> None:
    r = await im.http.post(
        f"{im.api_url}/user/no_such_route", json={}, headers={"operationID": "op", "token": im.admin}
    )
    assert r.status_code == 404
    r = await im.http.get(f"{im.api_url}/user/get_users_info")
    assert r.status_code == 404


async def test_no_cors_by_default(im: ImServer) -> None:
    # Issue 10: a page from any origin must not read the API (e.g. mint an admin token).
    assert not im.settings.cors_any_origin
    r = await im.http.options(
        f"{im.api_url}/auth/get_admin_token",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 404 and "access-control-allow-origin" not in r.headers
    r = await im.http.post(
        f"{im.api_url}/user/get_users_info",
        json={"userIDs": []},
        headers={"operationID": "op", "token": im.admin, "Origin": "http://example.org"},
    )
    assert r.json()["errCode"] == 0
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]


async def test_cors_like_openim_when_enabled(tmp_path: Path) -> None:
    settings = ImServerSettings(data_dir=tmp_path, secret=ADMIN_SECRET, cors_any_origin=True)
    async with run_imserver(settings, api_port=0, ws_port=0) as running, httpx.AsyncClient() as http:
        r = await http.options(f"{running.api_url}/user/get_users_info")
        assert r.status_code == 200
        assert r.json() == "Options Request!"
        assert r.headers["access-control-allow-origin"] == "*"
        admin = await admin_token(http, running.api_url)
        r = await http.post(
            f"{running.api_url}/user/get_users_info",
            json={"userIDs": []},
            headers={"operationID": "op", "token": admin, "Origin": "http://example.org"},
        )
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["access-control-allow-methods"] == "*"


async def test_gzip_when_asked(im: ImServer) -> None:
    ids = await im.users(3)
    hdrs = {"operationID": uuid.uuid4().hex, "token": im.admin, "Accept-Encoding": "gzip"}
    r = await im.http.post(f"{im.api_url}/user/get_users_info", json={"userIDs": ids}, headers=hdrs)
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.json()["data"]["usersInfo"]) == 3  # httpx decoded it
    raw = await im.http.post(
        f"{im.api_url}/user/get_users_info",
        json={"userIDs": ids},
        headers={**hdrs, "Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in raw.headers
    assert r.json() == raw.json()
